"""One recorded line of a game's speech: who says it, its exact text, and where its samples are.

    clip.read()        # float32 mono at the clip's own rate (11,025 Hz for both games)
    clip.read_16k()    # resampled to 16 kHz, leading/trailing silence cut to 0.1 s
    speaker_durations(clips)                  # {speaker: seconds}, longest first
    held_out_speakers(durations, 1800, 5)     # reproducible choice of speakers never trained on

A clip points into a file (a whole file, or a byte range of a resource archive) rather than
holding samples, so thousands of them cost nothing until read. Speakers are named
"<source>/<character>", unique across sources.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tiny_audio.pipeline.audio import SAMPLE_RATE, resample
from tiny_audio.training.augment import trim_silence

# How a clip's bytes are coded: raw unsigned 8-bit PCM, or any container soundfile reads (MP3).
RAW_U8 = "u8"
SOUNDFILE = "soundfile"
HELD_OUT_SPEAKER_SALT = "tiny-audio-held-out-speaker:"


@dataclass(frozen=True)
class SpeechClip:
    source: str  # "drascula", "queen"
    clip_id: str  # the game's own name for the clip, e.g. "VB12" or "C41B_742"
    speaker: str  # "<source>/<character>"
    text: str  # the game's subtitle for exactly this clip, as the game stores it
    path: Path
    offset: int  # first byte of the clip in ``path``
    size: int  # byte count
    encoding: str  # RAW_U8 or SOUNDFILE
    # RAW_U8: the rate. SOUNDFILE: 0 takes the file header's rate; any other value overrides it
    # (a game whose encoder wrote the wrong rate into every file).
    sample_rate: int

    def raw_bytes(self) -> bytes:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read(self.size)
        if len(data) != self.size:
            raise ValueError(f"{self.clip_id}: {self.path} ends before byte {self.offset + self.size}")
        return data

    def read(self) -> tuple[np.ndarray, int]:
        """(samples, rate): float32 mono in [-1, 1) at the clip's own rate."""
        data = self.raw_bytes()
        if self.encoding == RAW_U8:
            samples = (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
            return samples, self.sample_rate
        if self.encoding == SOUNDFILE:
            import soundfile

            samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
            return samples.mean(axis=1), self.sample_rate or int(rate)
        raise ValueError(f"{self.clip_id}: unknown encoding {self.encoding!r}")

    def read_16k(self, trim: bool = True) -> np.ndarray:
        """16 kHz mono float32; with ``trim``, silence before and after the speech is cut to 0.1 s
        (many clips open with a second or more of it)."""
        samples, rate = self.read()
        samples = resample(samples, rate, SAMPLE_RATE)
        return trim_silence(samples) if trim else samples

    def seconds(self) -> float:
        """Length of the clip as stored (silence included): from the size for raw PCM, from the
        header's frame count otherwise."""
        if self.encoding == RAW_U8:
            return self.size / self.sample_rate
        import soundfile

        info = soundfile.info(io.BytesIO(self.raw_bytes()))
        return info.frames / (self.sample_rate or info.samplerate)


def speaker_durations(clips: Iterable[SpeechClip]) -> dict[str, float]:
    """Seconds of speech per speaker (stored length, silence included), longest first."""
    totals: dict[str, float] = defaultdict(float)
    for clip in clips:
        totals[clip.speaker] += clip.seconds()
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def speaker_rank(speaker: str) -> bytes:
    """A speaker's place in the held-out order: depends on its name only."""
    return hashlib.sha256((HELD_OUT_SPEAKER_SALT + speaker).encode()).digest()


def held_out_speakers(
    durations: dict[str, float],
    min_seconds: float,
    min_speakers: int,
    max_share: float = 0.15,
    never: Iterable[str] = (),
) -> list[str]:
    """Speakers for a test set nobody trains on: taken in ``speaker_rank`` order until they add up
    to ``min_seconds`` and ``min_speakers``. A speaker holding more than ``max_share`` of all the
    speech (a game's hero) is never taken: training would lose too much; nor is one named in
    ``never``. Raises ValueError when the rest cannot meet both minimums."""
    total = sum(durations.values())
    excluded = set(never)
    chosen: list[str] = []
    seconds = 0.0
    for speaker in sorted(durations, key=speaker_rank):
        if durations[speaker] > max_share * total or speaker in excluded:
            continue
        chosen.append(speaker)
        seconds += durations[speaker]
        if seconds >= min_seconds and len(chosen) >= min_speakers:
            return sorted(chosen)
    raise ValueError(
        f"speakers under {max_share:.0%} of the speech give only {seconds:.0f} s in {len(chosen)} voices; "
        f"asked for {min_seconds:.0f} s in {min_speakers}"
    )
