"""Where the speech in a live window pauses: the places where its transcript can be committed.

The model gives no word timings, so the audio's own energy decides where one piece of speech
ends: a run of quiet 20 ms frames (the encoder's frame length) after speech. A window is cut
inside such a pause, so that no word is split between the text committed before the cut and the
text decoded after it. ``quiet`` is relative to the window itself (a level a tenth of the way from
its quietest frames to its speech), so a steady background hum still reads as a pause.

Measured on espeak-ng's en-us voice: sentences are ~0.32 s apart, commas ~0.16 s, and the gaps
inside a sentence last one or two frames; a comma followed by a soft consonant ("back, thanked")
can read as 0.25 s of quiet. A pause shorter than ``SURE_PAUSE_S`` therefore only ends a piece
when the model's text for it ends a sentence (streaming.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from tiny_audio.pipeline.audio import SILENCE_PEAK

FRAME_S = 0.02
PAUSE_S = 0.3  # a pause this long may end a sentence (and may be a comma said slowly)
SURE_PAUSE_S = 0.8  # a pause this long ends a piece of speech, whatever the text says
KEEP_S = 0.15  # silence kept after the last word of a committed piece (its last sound decays)
MIN_RMS = 3e-4  # frames quieter than this are silence whatever the window holds (about -70 dBFS)
LEVEL_SHARE = 0.1  # quiet: under 10% of the way from the quiet floor to the speech level


@dataclass(frozen=True)
class Pause:
    start: int  # first quiet sample
    end: int  # one past the last quiet sample

    def seconds(self, rate: int) -> float:
        return (self.end - self.start) / rate

    def cut(self, rate: int) -> int:
        """Where to split the audio: a little silence after the speech, at most half the pause."""
        return self.start + min((self.end - self.start) // 2, int(KEEP_S * rate))


def frame_rms(samples: np.ndarray, rate: int) -> np.ndarray:
    """Root mean square of each whole 20 ms frame."""
    size = max(1, int(FRAME_S * rate))
    frames = samples[: samples.size // size * size].reshape(-1, size).astype(np.float64)
    return np.sqrt((frames**2).mean(axis=1)) if frames.size else np.zeros(0)


def quiet_threshold(rms: np.ndarray) -> float:
    if rms.size == 0:
        return MIN_RMS
    floor, speech = np.percentile(rms, [10, 90])
    return max(MIN_RMS, float(floor + LEVEL_SHARE * (speech - floor)))


def quiet_runs(rms: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """(first frame, one past the last) of every run of frames under ``threshold``."""
    quiet = np.concatenate([[False], rms < threshold, [False]])
    edges = np.flatnonzero(quiet[1:] != quiet[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def last_pause(samples: np.ndarray, rate: int, min_seconds: float = PAUSE_S,
               min_speech_seconds: float = 0.1) -> Optional[Pause]:
    """The last pause of at least ``min_seconds`` that follows speech (at least
    ``min_speech_seconds`` of loud frames since the start), or None. A pause that reaches the end
    of the window counts once it is long enough: the speaker has stopped."""
    rms = frame_rms(samples, rate)
    threshold = quiet_threshold(rms)
    size = max(1, int(FRAME_S * rate))
    loud = np.cumsum(rms >= threshold)
    need = max(1, round(min_speech_seconds / FRAME_S))
    for first, last in reversed(quiet_runs(rms, threshold)):
        if (last - first) * FRAME_S + 1e-9 >= min_seconds and first > 0 and loud[first - 1] >= need:
            end = samples.size if last == rms.size else last * size
            return Pause(first * size, end)
    return None


def quietest_gap(samples: np.ndarray, rate: int, earliest: float, latest: float) -> int:
    """For speech that never pauses long enough: the sample to cut at, between ``earliest`` and
    ``latest`` seconds, in the longest quiet run there (the quietest frame if there is none) —
    most likely a gap between two words."""
    rms = frame_rms(samples, rate)
    size = max(1, int(FRAME_S * rate))
    low, high = int(earliest / FRAME_S), min(rms.size, int(latest / FRAME_S))
    if high <= low:
        return int(latest * rate)
    runs = quiet_runs(rms[low:high], quiet_threshold(rms))
    if runs:
        first, last = max(runs, key=lambda run: (run[1] - run[0], -run[0]))
        return (low + (first + last) // 2) * size
    return (low + int(np.argmin(rms[low:high]))) * size


def leading_quiet(samples: np.ndarray, rate: int, threshold: float) -> int:
    """How many samples at the start come before the first frame at or above ``threshold``
    (all of them when there is none)."""
    loud = np.flatnonzero(frame_rms(samples, rate) >= threshold)
    return int(loud[0]) * max(1, int(FRAME_S * rate)) if loud.size else samples.size


def has_speech(samples: np.ndarray, rate: int, min_seconds: float = 0.1) -> bool:
    """Whether at least ``min_seconds`` of 20 ms frames have a peak above silence (the level
    under which the pipeline refuses audio as silent)."""
    size = max(1, int(FRAME_S * rate))
    frames = np.abs(samples[: samples.size // size * size]).reshape(-1, size)
    return bool((frames.max(axis=1, initial=0.0) >= SILENCE_PEAK).sum() * FRAME_S + 1e-9 >= min_seconds)
