"""Turning prompt embeddings into tokens: greedy decoding with a KV cache, or beam search.

Both stop at an end-of-turn token and never return it. On a GPU, greedy decoding can replay a
CUDA graph over a static cache instead (``fast_decode.py``); the model picks which. Each asks
``should_stop`` (when given) before every new token and raises ``Cancelled`` if it says so: live
mode drops a run whose audio is stale at once, instead of waiting for its end.
"""

from __future__ import annotations

import inspect
import itertools
import time
from typing import Callable, Optional

import torch
from torch import nn

# Prompt (~30) + audio tokens (≤ 300 for 30 s at k=5) + new tokens (≤ 196 for 30 s) fit easily.
STATIC_CACHE_LEN = 1024
END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>")


ShouldStop = Optional[Callable[[], bool]]


class Cancelled(Exception):
    """A run stopped because its caller no longer wants it (``should_stop``)."""


def check(should_stop: ShouldStop) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("the run was cancelled")


def decoding_text(beams: int) -> str:
    return "greedy" if beams == 1 else f"beam search, {beams} beams"


def default_max_new_tokens(duration_s: float) -> int:
    """Room for fast speech (~4 tokens/s) plus a margin; bounds the cost of a decoder that
    never stops."""
    return int(16 + 6 * duration_s)


def stop_ids(decoder: nn.Module, tokenizer) -> set[int]:
    """The decoder's end-of-sequence ids and the usual end-of-turn tokens its tokenizer knows."""
    stops: set[int] = set()
    eos = getattr(getattr(decoder, "generation_config", None), "eos_token_id", None)
    for value in (eos, tokenizer.eos_token_id):
        if isinstance(value, int):
            stops.add(value)
        elif isinstance(value, (list, tuple)):
            stops.update(int(v) for v in value)
    return stops | token_ids(tokenizer, END_OF_TURN_TOKENS)


def token_ids(tokenizer, tokens) -> set[int]:
    """The ids of those of ``tokens`` that the tokenizer knows."""
    ids: set[int] = set()
    for token in tokens:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id and token_id >= 0:
            ids.add(token_id)
    return ids


class Clock:
    """Wall-clock laps; waits for the GPU at each lap so the time lands on the right step."""

    def __init__(self, device: torch.device, timings: dict[str, float]):
        self.device = device
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


def cache_argument(decoder: nn.Module) -> str:
    """transformers renamed ``past_key_values`` to ``cache``; accept either release."""
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"


def greedy(decoder: nn.Module, inputs_embeds: torch.Tensor, max_new_tokens: int, stops: set[int],
           clock: Optional[Clock] = None, min_new_tokens: int = 0, should_stop: ShouldStop = None) -> list[int]:
    """Greedy decoding with the decoder's dynamic KV cache; prefill and decoding timed apart.
    The first ``min_new_tokens`` picks never stop (a checkpoint may ask for that)."""
    cache_arg = cache_argument(decoder)
    out = decoder(inputs_embeds=inputs_embeds, use_cache=True, logits_to_keep=1)
    cache = _cache_of(out)
    next_id = _pick(out.logits[:, -1], stops if min_new_tokens > 0 else ())
    if clock:
        clock.lap("prefill")
    tokens: list[int] = []
    if max_new_tokens < 1:
        return tokens
    for _ in range(max_new_tokens):
        token = int(next_id.item())
        if token in stops:
            break
        tokens.append(token)
        if len(tokens) == max_new_tokens:
            break
        check(should_stop)
        out = decoder(input_ids=next_id, use_cache=True, **{cache_arg: cache})
        cache = _cache_of(out)
        next_id = _pick(out.logits[:, -1], stops if len(tokens) < min_new_tokens else ())
    if clock:
        clock.lap("decode")
    return tokens


def _pick(logits: torch.Tensor, banned) -> torch.Tensor:
    """The most likely next token [1, 1], never one of ``banned``."""
    if banned:
        logits = logits.clone()
        logits[..., sorted(banned)] = float("-inf")
    return logits.argmax(dim=-1, keepdim=True)


def beam_search(decoder: nn.Module, inputs_embeds: torch.Tensor, max_new_tokens: int, beams: int,
                stops: set[int], pad_id: int, clock: Optional[Clock] = None, min_new_tokens: int = 0,
                should_stop: ShouldStop = None, prefill_once: bool = True) -> list[int]:
    """transformers' beam search: the hypothesis of highest summed log-probability per token
    wins. The prompt but its last position is prefilled once, and its cache repeated for each
    beam (``generate`` alone would prefill every beam: on a CPU, most of a short clip's cost);
    the prefill is timed apart. ``prefill_once=False``: ``generate`` alone (bench/nano_cpu.py
    compares the two)."""
    from transformers import GenerationConfig

    if max_new_tokens < 1:
        return []
    ordered = sorted(stops)
    # The settings that shape the search, all explicit: generate fills those left unset from
    # the decoder's own generation config, and a checkpoint's sampling, repetition or
    # suppression settings must not reach beam search when greedy decoding ignores them.
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, num_beams=beams, do_sample=False,
        eos_token_id=ordered or None, pad_token_id=ordered[0] if ordered else pad_id, length_penalty=1.0,
        early_stopping=False, repetition_penalty=1.0, no_repeat_ngram_size=0, suppress_tokens=[],
        begin_suppress_tokens=[],
    )
    mask = torch.ones(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
    criteria = None
    if should_stop is not None:
        from transformers import StoppingCriteriaList

        criteria = StoppingCriteriaList([_AskEachStep(should_stop)])
    cache = None
    if prefill_once and inputs_embeds.shape[1] > 1:
        cache = _cache_of(decoder(inputs_embeds=inputs_embeds[:, :-1], use_cache=True, logits_to_keep=1))
        cache.batch_repeat_interleave(beams)
    if clock:
        clock.lap("prefill")
    # With only embeddings as the prompt, generate returns the new tokens alone; given a cache,
    # it feeds only the embeddings after it.
    out = decoder.generate(inputs_embeds=inputs_embeds, attention_mask=mask, generation_config=config,
                           stopping_criteria=criteria, **({cache_argument(decoder): cache} if cache else {}))
    check(should_stop)  # it ended the search early: its best hypothesis so far is no transcript
    tokens = list(itertools.takewhile(lambda token: token not in stops, out[0].tolist()))
    if clock:
        clock.lap("decode")
    return tokens


class _AskEachStep:
    """A stopping criterion for ``generate``: every hypothesis is done once ``should_stop`` says so."""

    def __init__(self, should_stop: Callable[[], bool]):
        self.should_stop = should_stop

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), bool(self.should_stop()), dtype=torch.bool, device=input_ids.device)


def _cache_of(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values
