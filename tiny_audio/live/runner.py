"""The model runs a live session asks for, done in this process (``ModelRunner``) — the same
interface as the worker process of worker.py, which the app uses.

Both kinds of run use the updates' model: a bfloat16 copy on a CPU that computes bfloat16
natively (2-3x faster prefill, about 2x faster per token than float32 here,
``bench/live_latency.py``; the nano model's LLM stage was trained in bfloat16 autocast), otherwise
the model itself.
- ``update``: greedy, at most a few new tokens after a forced start: the live text;
- ``complete``: the model's own decoding (beam search for nano) to the end of the audio, after an
  optional forced start: the text that is committed. On the 2-core CPU beam search costs about
  what greedy decoding does in bfloat16 (1.4 against 1.6 s for a 15-token sentence, one thread).
- ``figures``: the live plots of a result, as Plotly JSON.
Both runs take ``should_stop``: asked before each new token, it cancels the run
(``decoding.Cancelled``).
"""

from __future__ import annotations

import numpy as np
import torch

from tiny_audio.pipeline.decoding import ShouldStop
from tiny_audio.pipeline.model import AudioLLM, TranscriptionResult


def cpu_has_native_bfloat16() -> bool:
    """AVX512-BF16 or AMX instructions (plain AVX-512 only emulates bfloat16, more slowly)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes
        return False


def model_for_updates(model: AudioLLM) -> AudioLLM:
    """What the live updates run on: a bfloat16 copy of a float32 model on a CPU that computes
    bfloat16 natively (emulated, it would be slower), otherwise the model itself."""
    if model.device.type == "cpu" and model.dtype == torch.float32 and cpu_has_native_bfloat16():
        return model.in_dtype(torch.bfloat16)
    return model


class ModelRunner:
    """Live runs on a model in this process (each run holds the model's own lock)."""

    def __init__(self, model: AudioLLM, fast_updates: bool = True):
        self.model = model
        self.updates_model = model_for_updates(model) if fast_updates else model

    @property
    def ready(self) -> bool:
        return True

    @property
    def max_seconds(self) -> float:
        return self.model.max_seconds

    @property
    def updates_precision(self) -> str:
        return str(self.updates_model.dtype).removeprefix("torch.")

    def update(self, samples: np.ndarray, rate: int, continue_from: list[int],
               max_new_tokens: int, should_stop: ShouldStop = None) -> TranscriptionResult:
        return self.updates_model.transcribe(
            (samples, rate), continue_from=continue_from, max_new_tokens=max_new_tokens, beams=1,
            should_stop=should_stop)

    def complete(self, samples: np.ndarray, rate: int, continue_from: list[int],
                 max_new_tokens: int, should_stop: ShouldStop = None) -> TranscriptionResult:
        return self.updates_model.transcribe(
            (samples, rate), continue_from=continue_from, max_new_tokens=max_new_tokens,
            beams=self.model.beams, should_stop=should_stop)

    def figures(self, result: TranscriptionResult) -> list[str]:
        """The live plots of ``result`` as Plotly JSON (``LIVE_FIGURES``): built where the runs are,
        so that a worker process takes their cost off the server."""
        return live_figures(result)

    def close(self) -> None:
        pass


def live_figures(result: TranscriptionResult) -> list[str]:
    """The Live tab's figures: the stage histograms and the projector against the LLM's embeddings."""
    from tiny_audio.report import plots

    return [plots.stage_histograms(result).to_json(), plots.projector_vs_llm(result).to_json()]
