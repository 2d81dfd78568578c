"""Live transcription of speech of any length: text is committed together with the audio it
covers, and the model only ever sees the audio that is not committed yet.

Used by the app's Live tab (browser microphone) and by ``python -m tiny_audio.live`` (a local
microphone or a file played at real-time pace). The design:

- ``feed`` only appends the chunk to the window of uncommitted audio and wakes a worker thread;
  it never waits for the model, so no chunk is lost however slow the model is. Silence before
  any speech is not kept (beyond a short lead-in): it costs no run.
- The worker transcribes the *newest* window each time it is free (runs for stale windows are
  never queued): the live text. The part of the window's transcript that two runs agreed on (the
  later run having heard at least ``AGREE_GAP_S`` more) is forced as the start of the next answer,
  and at most ``tail_tokens`` new tokens are decoded, greedily: a run's cost stays bounded.
- When the speech pauses (pauses.py), the audio up to a cut inside the pause is decoded on its
  own, from nothing forced and with the model's own decoding, as one clip would be (greedily
  instead, once two of three took more than ``COMMIT_SHARE`` of the audio's time: on a CPU without
  native bfloat16 nano's beam search is slower than speech); if its text
  ends a sentence (or the pause is long), that text is committed with the audio time it covers and
  the next window starts at the cut. Words are never split between two windows, so none is
  repeated or lost at a boundary. Speech that never pauses is cut at its quietest gap once the
  window reaches ``long_window_s``.
- ``finish`` first cancels an update still running on audio older than the newest (its text
  would be replaced anyway; a commit in progress is left to end), then adds the uncommitted tail
  to the committed text: the live text when its run heard all the audio and ended on its own,
  otherwise a greedy decode that continues from what is settled
  (``transcript.settled_for_the_end``). Every decode is capped in length and cut where it starts
  repeating itself (``pipeline.text.cut_loop``); a final run that loops gives way to the live
  text of the same audio.
- The runs go through a runner: ``ModelRunner`` (runner.py) in this process, or the app's
  worker process (worker.py).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

from tiny_audio.live.pauses import (
    SURE_PAUSE_S,
    frame_rms,
    has_speech,
    last_pause,
    leading_quiet,
    quiet_threshold,
    quietest_gap,
)
from tiny_audio.live.runner import ModelRunner
from tiny_audio.live.transcript import Segment, common_prefix, join, settled_for_the_end
from tiny_audio.live.window import Window
from tiny_audio.pipeline.audio import SILENCE_PEAK, AudioError, resample, to_float, to_mono
from tiny_audio.pipeline.decoding import Cancelled, default_max_new_tokens
from tiny_audio.pipeline.result import TranscriptionResult
from tiny_audio.pipeline.text import cut_loop

DEFAULT_MAX_SECONDS = 20.0  # no window (and so no run) is longer than this
DEFAULT_LONG_WINDOW_S = 10.0  # speech without a pause is cut this often
DEFAULT_TAIL_TOKENS = 6  # bounds an update: 0.34 s for a 15 s window on a 2-core CPU in bfloat16 (bench/RESULTS.md)
DEFAULT_MIN_SECONDS = 0.8  # a first run on a fraction of a word only hallucinates
AGREE_GAP_S = 0.4  # two runs only agree when the later one heard this much more
LEAD_S = 0.3  # silence kept before the first speech of a window
FALLBACK_MARGIN_S = 2.0  # an unpaused cut leaves the newest seconds (a word in progress) alone
# A commit may take this share of the audio it covers (the rest of the time is the live text's);
# once two of the last three took longer, the session's later commits decode greedily (one slow
# commit alone, a first run or a busy moment, says little about the machine).
COMMIT_SHARE = 0.5
SLOW_COMMITS, OF_COMMITS = 2, 3
IDLE_TIMEOUT_S = 120.0  # a session nobody feeds (a closed browser tab) stops its worker
SENTENCE_END = re.compile(r"[.!?…][\"')\]]*$")


@dataclass
class LiveUpdate:
    result: TranscriptionResult  # the run behind it
    text: str  # the transcript so far: committed text + the window's latest text
    agreed_tokens: int  # tokens of the window's text two runs agreed on
    buffer_seconds: float  # audio the run saw
    heard_seconds: float  # audio received in total
    latency_s: float  # from the arrival of the newest chunk in this run to its result
    committed_seconds: float = 0.0  # audio covered by committed text
    audio_end_s: float = 0.0  # where the audio the run saw ends, in seconds since the start
    final: bool = False
    decoded: bool = True  # the final update: its tail was decoded (False: the live text covered it)


class Cut(NamedTuple):
    """Where to commit a window up to (samples from its start), and how."""

    at: int
    pause_start: Optional[int] = None  # the pause it is in, as an index in the whole stream
    sure: bool = True  # whether the cut holds whatever the text says


def decode_budget(seconds: float, forced: int, floor: int) -> int:
    """New tokens a decode to the end of ``seconds`` of audio may take: room for fast speech,
    never less than ``floor``."""
    return max(floor, default_max_new_tokens(seconds) - forced)


class LiveSession:
    def __init__(
        self,
        model,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        tail_tokens: int = DEFAULT_TAIL_TOKENS,
        background: bool = True,
        min_seconds: float = DEFAULT_MIN_SECONDS,
        fast_updates: bool = True,
        long_window_s: float = DEFAULT_LONG_WINDOW_S,
    ):
        """``model``: an ``AudioLLM`` (run in this process by a ``ModelRunner``, its updates on
        ``model_for_updates(model)`` when ``fast_updates``) or a runner (worker.py)."""
        self.runner = model if hasattr(model, "complete") else ModelRunner(model, fast_updates)
        self.max_seconds = min(max_seconds, self.runner.max_seconds)
        self.long_window_s = min(long_window_s, self.max_seconds)
        self.tail_tokens = tail_tokens
        self.min_seconds = min_seconds
        self.window = Window()
        self.segments: list[Segment] = []
        self.model_runs = 0
        self.heard_seconds = 0.0
        self.error: Optional[str] = None  # why the worker stopped, if a run failed
        self.greedy_commits = False  # the model's own decoding fell behind the speech (``COMMIT_SHARE``)
        self._commit_shares: deque[float] = deque(maxlen=OF_COMMITS)  # the last commits' time / their audio's
        self._agreed: list[int] = []  # the window's tokens two runs agreed on
        self._rejected_pause: Optional[int] = None  # a short pause whose text ended no sentence
        self._history: list[tuple[list[int], int]] = []  # the window's recent hypotheses, with their audio end
        self._window_text = ""  # the window's latest transcript
        self._window_ended = False  # its run ended on its own, before its token cap
        self._speech = False  # the window holds speech not yet committed
        self._unchecked = False  # audio arrived since the worker last looked for a pause
        self._latest: Optional[LiveUpdate] = None
        self._pending_since: Optional[float] = None  # arrival time of the newest unprocessed speech
        self._last_feed = time.perf_counter()
        self._changed = threading.Condition()
        self._closed = False
        self._finishing = False  # Stop was pressed: an update on stale audio is no longer wanted
        self._worker = threading.Thread(target=self._work, daemon=True) if background else None
        if self._worker:
            self._worker.start()

    # ----- input ------------------------------------------------------------------------------

    def feed(self, samples: np.ndarray, rate: int) -> bool:
        """Append a chunk; returns whether it held sound (and so will trigger a model run)."""
        chunk = to_mono(to_float(np.asarray(samples)))
        with self._changed:
            self._last_feed = time.perf_counter()
            self.heard_seconds += chunk.size / rate
            if self.window.rate is None:
                self.window.rate = rate
            elif rate != self.window.rate:  # a source that changed its rate mid-stream
                chunk = resample(chunk, rate, self.window.rate)
            self.window.append(chunk)
            sound = chunk.size > 0 and float(np.abs(chunk).max()) >= SILENCE_PEAK
            if sound:
                self._speech = True
                self._pending_since = time.perf_counter()
            elif not self._speech:
                self.window.keep_last(LEAD_S)  # silence before any speech carries nothing
            if self._speech:
                self._unchecked = True
                self._changed.notify()
            return sound

    # ----- output -----------------------------------------------------------------------------

    @property
    def committed_text(self) -> str:
        return join(*(segment.text for segment in self.segments))

    @property
    def committed_seconds(self) -> float:
        return self.segments[-1].end_s if self.segments else 0.0

    def latest(self) -> Optional[LiveUpdate]:
        with self._changed:
            return self._latest

    def step(self, force: bool = False) -> Optional[LiveUpdate]:
        """One model run, if there is work: commit the window up to a pause when it has one,
        otherwise update the window's transcript if speech arrived since the last run (or if
        ``force``d: the same audio again extends the agreed part)."""
        with self._changed:
            samples, rate, start = self.window.samples(), self.window.rate, self.window.start
            checking, self._unchecked = self._unchecked or force, False
            speech = self._speech
            due = (self._pending_since is not None or force) and speech
            arrived = self._pending_since or time.perf_counter()
        if rate is None or not speech:
            return None
        cut = self._cut(samples, rate, start) if checking else None
        if cut is not None:
            return self._commit(samples, rate, start, cut)
        if not due or samples.size < self.min_seconds * rate:
            return None
        with self._changed:
            self._pending_since = None
            forced = list(self._agreed)
        return self._update(samples, rate, start, forced, arrived)

    def finish(self) -> Optional[LiveUpdate]:
        """Stop the worker (after its run in progress), then decode what is not committed yet and
        add it to the committed text. The final update's latency is the whole wait."""
        started = time.perf_counter()
        self._finishing = True
        self.close()
        while self.window.rate and self.window.seconds > self.max_seconds:  # a worker that fell behind
            samples, rate, start = self.window.samples(), self.window.rate, self.window.start
            self._commit(samples, rate, start, self._fallback_cut(samples, rate))
        samples, rate, start = self.window.samples(), self.window.rate, self.window.start
        result, decoded, tail_s = None, False, 0.0
        if rate and self._speech and has_speech(samples, rate):
            end, tail_s = start + samples.size, samples.size / rate
            heard_all = bool(self._history) and self._history[-1][1] == end  # no audio since the last run
            text = self._window_text
            if not (heard_all and self._window_ended):  # otherwise the live text is already the whole tail
                latest = self._history[-1][0] if self._history else []
                forced = settled_for_the_end(latest, self._agreed, heard_all)
                budget = decode_budget(samples.size / rate, len(forced), self.tail_tokens)
                try:
                    result = self.runner.update(samples, rate, forced, budget)
                except AudioError:
                    result = None
                if result is not None:
                    self.model_runs += 1
                    decoded = True
                    text, looped = cut_loop(result.text)
                    if looped and self._window_text:  # the live text of the same audio is the better one
                        text = self._window_text
            if text:
                self.segments.append(Segment(text, start / rate, end / rate))
            self.window.drop_until(end)
        last = result or (self._latest.result if self._latest else None)
        if last is None:
            return None
        self._latest = LiveUpdate(
            result=last,
            text=self.committed_text,
            agreed_tokens=0,
            buffer_seconds=tail_s,  # the uncommitted speech after the last commit
            heard_seconds=self.heard_seconds,
            latency_s=time.perf_counter() - started,
            committed_seconds=self.committed_seconds,
            audio_end_s=(start + samples.size) / rate if rate else 0.0,
            final=True,
            decoded=decoded,
        )
        return self._latest

    def close(self, wait: bool = True) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        if wait and self._worker and self._worker is not threading.current_thread():
            self._worker.join()

    # ----- the runs ---------------------------------------------------------------------------

    def _cut(self, samples: np.ndarray, rate: int, start: int) -> Optional[Cut]:
        """Where the window may be committed up to: inside its last pause (within the longest
        window a run may take), or, past ``long_window_s`` of speech without one, its quietest gap."""
        pause = last_pause(samples[: int(self.max_seconds * rate)], rate)
        if pause is not None:
            sure = pause.seconds(rate) >= SURE_PAUSE_S
            if sure or start + pause.start != self._rejected_pause:
                return Cut(pause.cut(rate), start + pause.start, sure)
        if samples.size >= self.long_window_s * rate:
            return self._fallback_cut(samples, rate)
        return None

    def _fallback_cut(self, samples: np.ndarray, rate: int) -> Cut:
        latest = min(samples.size / rate - FALLBACK_MARGIN_S, self.max_seconds)
        return Cut(quietest_gap(samples, rate, earliest=latest / 2, latest=latest))

    def _commit(self, samples: np.ndarray, rate: int, start: int, cut: Cut) -> Optional[LiveUpdate]:
        """Decode the window's audio up to the cut on its own and commit its text — unless the cut
        is not ``sure`` and the text ends no sentence (a comma, most likely)."""
        piece, end = samples[: cut.at], start + cut.at
        started = time.perf_counter()
        result, text = None, ""
        if has_speech(piece, rate):
            decode = self.runner.update if self.greedy_commits else self.runner.complete
            try:
                result = decode(piece, rate, [], decode_budget(piece.size / rate, 0, self.tail_tokens))
                text, _ = cut_loop(result.text)
            except AudioError:  # nothing a model can read (too short, or silent after all)
                result = None
            if not self.greedy_commits:  # can this machine's beam search keep up with speech?
                self._commit_shares.append((time.perf_counter() - started) / (piece.size / rate))
                self.greedy_commits = sum(share > COMMIT_SHARE for share in self._commit_shares) >= SLOW_COMMITS
        with self._changed:
            if result is not None:
                self.model_runs += 1
            if not cut.sure and text and not SENTENCE_END.search(text):
                self._rejected_pause = cut.pause_start  # wait for the sentence's end
                return None
            if text:
                self.segments.append(Segment(text, start / rate, end / rate))
            self.window.drop_until(end)
            # The next window starts shortly before its speech (which may have begun while this
            # run went on): a long silence at the start of a clip makes the model invent words
            # ("Assert:", "Ah,").
            rest = self.window.samples()
            quiet = leading_quiet(rest, rate, quiet_threshold(frame_rms(piece, rate)))
            self.window.drop_until(end + max(0, quiet - int(LEAD_S * rate)))
            self._agreed, self._history, self._window_text, self._window_ended = [], [], "", False
            rest = self.window.samples()
            self._speech = has_speech(rest, rate)
            self._unchecked = self._speech  # the rest may hold another pause
            if not self._speech:
                self._pending_since = None
            elif self._pending_since is None:
                self._pending_since = time.perf_counter()  # its speech has not been shown on its own
            if result is None:
                return None
            update = LiveUpdate(
                result=result,
                text=self.committed_text,
                agreed_tokens=0,
                buffer_seconds=piece.size / rate,
                heard_seconds=self.heard_seconds,
                latency_s=time.perf_counter() - started,
                committed_seconds=self.committed_seconds,
                audio_end_s=end / rate,
            )
            self._latest = update
            return update

    def _update(self, samples: np.ndarray, rate: int, start: int, forced: list[int],
                arrived: float) -> Optional[LiveUpdate]:
        end = start + samples.size
        try:
            result = self.runner.update(samples, rate, forced, self.tail_tokens, should_stop=lambda: self._stale(end))
        except (AudioError, Cancelled):  # too short or silent so far (wait for more audio), or stale
            return None
        ready = time.perf_counter()
        with self._changed:
            self.model_runs += 1
            if self.window.start != start:  # committed meanwhile: this run's text is stale
                return None
            hypothesis = result.token_ids
            # Local agreement: what this run and an earlier one (that heard less) both say.
            older = [i for i, (_, until) in enumerate(self._history) if end - until >= AGREE_GAP_S * rate]
            if older:
                tokens, _ = self._history[older[-1]]
                agreed = common_prefix(tokens, hypothesis)
                if len(agreed) > len(self._agreed):
                    self._agreed = agreed
            # Keep the newest run old enough to agree with, and those that will become so.
            self._history = self._history[older[-1] if older else 0 :] + [(hypothesis, end)]
            self._window_text = cut_loop(result.text)[0]
            self._window_ended = len(hypothesis) - len(forced) < self.tail_tokens
            update = LiveUpdate(
                result=result,
                text=join(self.committed_text, self._window_text),
                agreed_tokens=len(self._agreed),
                buffer_seconds=samples.size / rate,
                heard_seconds=self.heard_seconds,
                latency_s=ready - arrived,
                committed_seconds=self.committed_seconds,
                audio_end_s=end / rate,
            )
            self._latest = update
            return update

    def _stale(self, end: int) -> bool:
        """Whether an update that heard the stream up to ``end`` is no longer wanted: Stop was
        pressed and audio arrived after it (the final run hears that audio; this run's text would
        only be replaced)."""
        return self._finishing and self.window.end > end

    def _has_work(self) -> bool:
        return self._speech and (self._unchecked or (
            self._pending_since is not None and self.window.seconds >= self.min_seconds))

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._closed and not self._has_work():
                    self._changed.wait(timeout=IDLE_TIMEOUT_S / 4)
                    if time.perf_counter() - self._last_feed > IDLE_TIMEOUT_S:
                        self._closed = True
                if self._closed:
                    return
            try:
                self.step()
            except Exception as error:  # a failed run must not die silently in a thread
                with self._changed:
                    message = str(error).strip()
                    self.error = message.splitlines()[0] if message else type(error).__name__
                    self._closed = True
                return
