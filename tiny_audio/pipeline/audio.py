"""Audio in any form → 16 kHz mono float32, with clear errors for input no model should see."""

from __future__ import annotations

from math import gcd
from pathlib import Path
from typing import Union

import numpy as np

SAMPLE_RATE = 16_000
MIN_SECONDS = 0.1
# A peak under this (about -60 dBFS) is treated as silence: there is nothing to transcribe.
SILENCE_PEAK = 1e-3

AudioInput = Union[str, Path, tuple]


class AudioError(ValueError):
    """Input audio the pipeline refuses, with a message meant for the person who gave it."""


def load_audio(source: AudioInput, max_seconds: float | None = None) -> np.ndarray:
    """Read a file path or a ``(samples, sample_rate)`` / ``(sample_rate, samples)`` pair and
    return validated 16 kHz mono float32 samples.

    Files longer than ``max_seconds`` are refused from their header, before any sample is read,
    so an hour-long upload costs nothing.
    """
    if isinstance(source, (str, Path)):
        samples, rate = _read_file(Path(source), max_seconds)
    elif isinstance(source, tuple) and len(source) == 2:
        first, second = source
        # Gradio hands (rate, samples); Python users tend to write (samples, rate).
        samples, rate = (second, first) if np.isscalar(first) else (first, second)
    else:
        raise AudioError("audio must be a file path or a (samples, sample_rate) pair")
    return prepare(np.asarray(samples), int(rate), max_seconds=max_seconds)


def _read_file(path: Path, max_seconds: float | None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not path.is_file():
        raise AudioError(f"no such audio file: {path}")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as error:
        raise AudioError(f"'{path.name}' is not a readable audio file ({_first_line(error)})") from None
    if info.frames == 0 or info.samplerate <= 0:
        raise AudioError(f"'{path.name}' contains no audio")
    duration = info.frames / info.samplerate
    if max_seconds is not None and duration > max_seconds:
        raise AudioError(_too_long(duration, max_seconds))
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as error:
        raise AudioError(f"'{path.name}' could not be decoded ({_first_line(error)})") from None
    return samples, rate


def prepare(samples: np.ndarray, rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Scale to [-1, 1] floats, mix to mono, resample to 16 kHz and validate."""
    if rate <= 0:
        raise AudioError(f"invalid sample rate {rate}")
    mono = to_mono(to_float(samples))
    if mono.size == 0:
        raise AudioError("the audio is empty (0 samples)")
    duration = mono.size / rate
    if max_seconds is not None and duration > max_seconds:
        raise AudioError(_too_long(duration, max_seconds))
    if not np.isfinite(mono).all():
        raise AudioError("the audio contains NaN or infinite samples")
    audio = resample(mono, rate, SAMPLE_RATE)
    if duration < MIN_SECONDS:
        raise AudioError(f"the audio is {duration * 1000:.0f} ms long; at least {MIN_SECONDS * 1000:.0f} ms is needed")
    if np.abs(audio).max() < SILENCE_PEAK:
        raise AudioError("the audio is silent (peak below -60 dBFS): nothing to transcribe")
    return audio


def to_float(samples: np.ndarray) -> np.ndarray:
    """Integer PCM → float32 in [-1, 1] by the format's full scale (never by the peak: silence
    would divide by zero and quiet speech would be blown up)."""
    if samples.dtype == np.uint8:
        return (samples.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    if np.issubdtype(samples.dtype, np.floating):
        return samples.astype(np.float32, copy=False)
    raise AudioError(f"unsupported sample type {samples.dtype}")


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels. 2-D input may be [frames, channels] or [channels, frames]; the
    shorter axis is taken as the channels."""
    if samples.ndim == 1:
        return samples
    if samples.ndim != 2:
        raise AudioError(f"audio must be 1-D or 2-D, got shape {samples.shape}")
    channel_axis = 1 if samples.shape[1] <= samples.shape[0] else 0
    return samples.mean(axis=channel_axis, dtype=np.float32)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (anti-aliased) between integer rates."""
    if rate == target:
        return np.ascontiguousarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    divisor = gcd(rate, target)
    return resample_poly(samples, target // divisor, rate // divisor).astype(np.float32)


def _too_long(duration: float, max_seconds: float) -> str:
    return (
        f"the audio is {duration:.1f} s long; this model's encoder takes at most {max_seconds:.0f} s. "
        "Trim it to the part you want to see traced."
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
