"""Live transcription: a bounded rolling buffer, re-transcribed in the background as audio arrives.

Used by the app's Live tab (browser microphone) and by ``python -m tiny_audio.live`` (a local
microphone or a file played at real-time pace). The design:

- ``feed`` only appends the chunk to a rolling buffer (the last ``max_seconds``) and wakes a
  worker thread; it never waits for the model, so no chunk is lost however slow the model is.
- The worker transcribes the *newest* buffer each time it is free. Audio that arrived while it
  was busy is included in the next run; runs for stale buffers are never queued.
- Chunks that are silence do not wake the worker: they cost no model run.
- Each run re-decodes only a short tail: the part of the transcript that two consecutive runs
  agreed on is committed and forced as the start of the answer (one prefill pass), and at most
  ``tail_tokens`` new tokens are decoded, greedily. That bounds a run's cost as the buffer grows.
- On a CPU with native bfloat16 (AVX512-BF16 or AMX), the updates run on a bfloat16 copy of
  the model: 2-3x faster prefill and about 2x faster per token than float32 here
  (``bench/live_latency.py``); the nano model's LLM stage was trained in bfloat16 autocast.
- ``finish`` runs the model once more on the whole window, with nothing forced, in the model's
  own precision and decoding (beam search for the trained nano): the final transcript is exactly
  what a single run on the same audio gives (plus the text settled in earlier windows, when more
  than ``max_seconds`` was heard).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from tiny_audio.pipeline.audio import SAMPLE_RATE, SILENCE_PEAK, AudioError, to_float, to_mono
from tiny_audio.pipeline.model import AudioLLM, TranscriptionResult

DEFAULT_MAX_SECONDS = 20.0
DEFAULT_TAIL_TOKENS = 6  # bounds an update: 0.34 s for a 15 s buffer on a 2-core CPU in bfloat16 (bench/RESULTS.md)
DEFAULT_MIN_SECONDS = 1.0  # a first run on a fraction of a word only hallucinates
IDLE_TIMEOUT_S = 120.0  # a session nobody feeds (a closed browser tab) stops its worker


class RollingBuffer:
    """Mono float32 audio at the source's own rate, keeping only the last ``max_seconds``.

    Resampling happens on the whole buffer when it is used, so chunk boundaries leave no trace.
    """

    def __init__(self, max_seconds: float = DEFAULT_MAX_SECONDS, hop_seconds: float = 5.0):
        self.max_seconds = max_seconds
        self.hop_seconds = min(hop_seconds, max_seconds / 2)
        self.rate: Optional[int] = None
        self._samples = np.zeros(0, dtype=np.float32)
        self.restarted = False  # set when audio was dropped from the start (or the rate changed)

    def append(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """Add a chunk (any dtype, mono or multi-channel); returns it as mono float32."""
        chunk = to_mono(to_float(np.asarray(samples)))
        if self.rate != rate:  # a new stream, or the source changed its rate: start over
            self.rate, self._samples = rate, np.zeros(0, dtype=np.float32)
            self.restarted = True
        self._samples = np.concatenate([self._samples, chunk])
        if self._samples.size > int(self.max_seconds * rate):
            # Drop a whole hop at once, so the window (and what was settled in it) restarts
            # every few seconds rather than on every chunk.
            self._samples = self._samples[-int((self.max_seconds - self.hop_seconds) * rate) :]
            self.restarted = True
        return chunk

    @property
    def seconds(self) -> float:
        return self._samples.size / self.rate if self.rate else 0.0

    def audio(self) -> tuple[np.ndarray, int]:
        return self._samples.copy(), self.rate or SAMPLE_RATE


@dataclass
class LiveUpdate:
    result: TranscriptionResult
    text: str  # the transcript so far (committed part + the latest tail)
    committed_tokens: int  # tokens two consecutive runs agreed on
    buffer_seconds: float  # audio the run saw
    heard_seconds: float  # audio received in total
    latency_s: float  # from the arrival of the newest chunk in this run to its result
    final: bool = False


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


def common_prefix(a: list[int], b: list[int]) -> list[int]:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]


class LiveSession:
    def __init__(
        self,
        model: AudioLLM,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        tail_tokens: int = DEFAULT_TAIL_TOKENS,
        background: bool = True,
        min_seconds: float = DEFAULT_MIN_SECONDS,
        fast_updates: bool = True,
    ):
        """``fast_updates``: run the updates on ``model_for_updates(model)`` (bfloat16 where the
        CPU has it); ``finish`` always uses ``model``."""
        self.model = model
        self.updates_model = model_for_updates(model) if fast_updates else model
        self.tail_tokens = tail_tokens
        self.min_seconds = min_seconds
        self.buffer = RollingBuffer(max_seconds)
        self.model_runs = 0
        self.heard_seconds = 0.0
        self._committed: list[int] = []
        self._previous: list[int] = []
        self._archive = ""  # text settled in windows that have since moved on
        self._epoch = 0  # bumped when the window restarts: a run for an older window commits nothing
        self.error: Optional[str] = None  # why the worker stopped, if a run failed
        self._latest: Optional[LiveUpdate] = None
        self._pending_since: Optional[float] = None  # arrival time of the newest unprocessed speech
        self._last_feed = time.perf_counter()
        self._changed = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._work, daemon=True) if background else None
        if self._worker:
            self._worker.start()

    # ----- input ------------------------------------------------------------------------------

    def feed(self, samples: np.ndarray, rate: int) -> bool:
        """Append a chunk; returns whether it held speech (and so will trigger a model run)."""
        with self._changed:
            self._last_feed = time.perf_counter()
            chunk = self.buffer.append(samples, rate)
            self.heard_seconds += chunk.size / rate
            if self.buffer.restarted:
                # The committed words may describe audio that is no longer in the window: keep
                # them as text, and start settling anew.
                self._archive = self._text(self._committed)
                self._committed, self._previous, self.buffer.restarted = [], [], False
                self._epoch += 1
            speech = chunk.size > 0 and float(np.abs(chunk).max()) >= SILENCE_PEAK
            if speech:
                self._pending_since = time.perf_counter()
                self._changed.notify()
            return speech

    # ----- output -----------------------------------------------------------------------------

    def latest(self) -> Optional[LiveUpdate]:
        with self._changed:
            return self._latest

    def step(self, force: bool = False) -> Optional[LiveUpdate]:
        """One model run on the newest buffer, if speech arrived since the last one (or if
        ``force``d: the same audio again extends the committed part)."""
        with self._changed:
            if (self._pending_since is None and not force) or self.buffer.seconds < self.min_seconds:
                return None
            arrived = self._pending_since or time.perf_counter()
            self._pending_since = None
            samples, rate = self.buffer.audio()
            forced, epoch = list(self._committed), self._epoch
        try:
            result = self.updates_model.transcribe(
                (samples, rate), max_new_tokens=self.tail_tokens, continue_from=forced, beams=1
            )
        except AudioError:  # too short or silent so far: wait for more audio
            return None
        ready = time.perf_counter()
        with self._changed:
            self.model_runs += 1
            hypothesis = result.token_ids
            if epoch == self._epoch:
                # Local agreement: what this run and the previous one both say is settled.
                self._committed = common_prefix(self._previous, hypothesis) if self._previous else list(forced)
                self._previous = hypothesis
            update = LiveUpdate(
                result=result,
                text=" ".join(part for part in (self._archive, result.text) if part),
                committed_tokens=len(self._committed),
                buffer_seconds=samples.size / rate,
                heard_seconds=self.heard_seconds,
                latency_s=ready - arrived,
            )
            self._latest = update
            return update

    def finish(self) -> Optional[LiveUpdate]:
        """Stop the worker, then one full run on the window (the last ``max_seconds``), with
        nothing forced; text settled in earlier windows stays in front."""
        self.close()
        samples, rate = self.buffer.audio()
        if samples.size == 0:
            return self._latest
        start = time.perf_counter()
        try:
            result = self.model.transcribe((samples, rate))
        except AudioError:
            return self._latest
        self.model_runs += 1
        self._latest = LiveUpdate(
            result=result,
            text=" ".join(part for part in (self._archive, result.text) if part),
            committed_tokens=len(result.token_ids),
            buffer_seconds=samples.size / rate,
            heard_seconds=self.heard_seconds,
            latency_s=time.perf_counter() - start,
            final=True,
        )
        return self._latest

    def close(self, wait: bool = True) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        if wait and self._worker and self._worker is not threading.current_thread():
            self._worker.join()

    def _text(self, tokens: list[int]) -> str:
        words = self.model.tokenizer.decode(tokens, skip_special_tokens=True).strip() if tokens else ""
        return " ".join(part for part in (self._archive, words) if part)

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._closed and (self._pending_since is None or self.buffer.seconds < self.min_seconds):
                    self._changed.wait(timeout=IDLE_TIMEOUT_S / 4)
                    if time.perf_counter() - self._last_feed > IDLE_TIMEOUT_S:
                        self._closed = True
                if self._closed:
                    return
            try:
                self.step()
            except Exception as error:  # a failed run must not die silently in a thread
                with self._changed:
                    self.error = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    self._closed = True
                return
