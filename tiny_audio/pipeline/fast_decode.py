"""Greedy decoding over a static KV cache, replayed as a CUDA graph on the GPU.

A plain decode step launches hundreds of small kernels from Python; for a 3B decoder on a
modern GPU that launch overhead, not memory bandwidth, sets the time per token. Here the cache
is allocated once (fixed shapes), the one-token step is captured once as a CUDA graph, and each
new token is a single graph replay. The graph does the whole step: forward, argmax, and moving
the token and position buffers on, so the host only reads one integer per token to check for
the end of the turn.

On the CPU (or with ``use_graph=False``) the same static-cache step runs eagerly; tests use that
to show it computes the same tokens as the plain path.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Optional

import torch
from torch import nn

from tiny_audio.pipeline.decoding import check


class StaticGreedyDecoder:
    def __init__(
        self,
        decoder: nn.Module,
        max_cache_len: int = 1024,
        use_graph: Optional[bool] = None,
        compile_step: bool = False,
    ):
        """``compile_step``: torch.compile the one-token step before capturing it (fuses the small
        element-wise kernels) and the prompt's prefill (dynamic shapes). Costs compilations."""
        from transformers import StaticCache

        self.decoder = decoder
        self.max_cache_len = max_cache_len
        self.device = next(decoder.parameters()).device
        self.use_graph = self.device.type == "cuda" if use_graph is None else use_graph
        self.cache = StaticCache(config=decoder.config, max_cache_len=max_cache_len)
        parameters = inspect.signature(decoder.forward).parameters
        self._cache_arg = "cache" if "cache" in parameters else "past_key_values"
        # Older transformers index a static cache by ``cache_position``; newer ones keep the
        # write position inside the cache itself.
        self._takes_cache_position = "cache_position" in parameters
        # Static buffers the graph reads and updates in place.
        self._token = torch.zeros(1, 1, dtype=torch.long, device=self.device)
        self._position = torch.zeros(1, dtype=torch.long, device=self.device)
        self._graph: Optional[torch.cuda.CUDAGraph] = None
        self.graph_error: Optional[str] = None  # why capture failed, if it did (then steps run eagerly)
        self._prefill = decoder
        if compile_step:
            self._step = torch.compile(self._step, dynamic=False)
            self._prefill = torch.compile(decoder, dynamic=True)

    def _forward(self, positions: torch.Tensor, module=None, **kwargs):
        if self._takes_cache_position:
            kwargs["cache_position"] = positions
        module = self.decoder if module is None else module
        return module(use_cache=True, position_ids=positions[None], **{self._cache_arg: self.cache}, **kwargs)

    def _step(self) -> None:
        """One token: read ``_token`` at ``_position``, write the next token, advance."""
        out = self._forward(self._position, input_ids=self._token)
        self._token.copy_(out.logits[:, -1].argmax(dim=-1, keepdim=True))
        self._position.add_(1)

    def _capture(self) -> None:
        # Warm up on a side stream (CUDA graphs require it), then capture one step. The cache
        # slots these dry runs write are overwritten by the next prefill or masked as future.
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(3):
                self.cache.reset()
                self._position.zero_()
                self._step()
        torch.cuda.current_stream(self.device).wait_stream(stream)
        self.cache.reset()
        self._position.zero_()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step()
        self._graph = graph

    @torch.inference_mode()
    def generate(self, inputs_embeds: torch.Tensor, max_new_tokens: int, stop_ids: set[int], clock=None,
                 should_stop=None) -> list[int]:
        prompt_len = inputs_embeds.shape[1]
        if max_new_tokens < 1:
            return []
        if prompt_len + max_new_tokens > self.max_cache_len:
            max_new_tokens = self.max_cache_len - prompt_len
            if max_new_tokens < 1:
                raise ValueError(f"prompt of {prompt_len} positions exceeds the static cache ({self.max_cache_len})")
        if self.use_graph and self._graph is None:
            try:
                self._capture()
            except RuntimeError as error:  # a model whose step cannot be captured still decodes
                self.graph_error = str(error).splitlines()[0]
                self.use_graph = False
                warnings.warn(f"CUDA graph capture failed, decoding eagerly: {self.graph_error}")
        self.cache.reset()  # in place: the captured graph keeps pointing at the same buffers
        positions = torch.arange(prompt_len, device=self.device)
        out = self._forward(positions, self._prefill, inputs_embeds=inputs_embeds, logits_to_keep=1)
        self._token.copy_(out.logits[:, -1].argmax(dim=-1, keepdim=True))
        self._position.fill_(prompt_len)
        if clock:
            clock.lap("prefill")
        tokens: list[int] = []
        while True:
            token = int(self._token.item())
            if token in stop_ids:
                break
            tokens.append(token)
            if len(tokens) == max_new_tokens:
                break
            check(should_stop)
            if self._graph is not None:
                self._graph.replay()
            else:
                self._step()
        if clock:
            clock.lap("decode")
        return tokens
