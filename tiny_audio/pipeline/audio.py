"""Audio in any form → 16 kHz mono float32, with clear errors for input no model should see.

Everything that could cost memory or time is checked before it is spent: the sample rate, the
channel count and the length come from a file's header and are checked before any sample is
read; an array's rate and length before it is resampled.
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd
from pathlib import Path
from typing import Union

import numpy as np

SAMPLE_RATE = 16_000
MIN_SECONDS = 0.1
# Sample rates accepted: telephone-band 4 kHz up to 384 kHz (the highest rate audio interfaces
# record). Outside it a header is broken or hostile, and resampling from a rate that shares no
# factor with 16 kHz would build a filter as long as the rate.
MIN_RATE = 4_000
MAX_RATE = 384_000
# At most this many samples (all channels together) are read from a file: 30 s at 384 kHz mono,
# at 192 kHz stereo or at 48 kHz in 8 channels (48 MB as float32).
MAX_READ_SAMPLES = 12_000_000
MAX_CHANNELS = 8
# A frame of 20 ms whose peak (after removing the DC offset) reaches about -60 dBFS holds sound;
# a clip needs a few of them (a lone click is not speech).
SILENCE_PEAK = 1e-3
SOUND_FRAME_SECONDS = 0.02
MIN_SOUND_FRAMES = 3
# Float samples are meant to lie in [-1, 1]. Resampling a full-scale clip (and lossy decoders)
# overshoot a little, so peaks up to 2 (+6 dB) are taken as they are; beyond that the scale is wrong.
MAX_FLOAT_PEAK = 2.0
# Clipped noise (or a broken recording) sits at full scale most of the time; speech, even speech
# overdriven 8× (23% of samples clipped), far less often.
FULL_SCALE = 0.99
MAX_SATURATED_SHARE = 0.5
# The largest up/down factor resampled exactly; rarer ratios use the nearest fraction with a
# denominator this small (at most a few parts per million away from the exact rate).
MAX_RESAMPLE_FACTOR = 1000

AudioInput = Union[str, Path, tuple]


class AudioError(ValueError):
    """Input audio the pipeline refuses, with a message meant for the person who gave it."""


def load_audio(source: AudioInput, max_seconds: float | None = None) -> np.ndarray:
    """Read a file path or a ``(samples, sample_rate)`` / ``(sample_rate, samples)`` pair and
    return validated 16 kHz mono float32 samples.

    Files longer than ``max_seconds`` are refused from their header, before any sample is read,
    so an hour-long upload costs nothing; so are rates outside ``MIN_RATE``–``MAX_RATE``.
    """
    if isinstance(source, (str, Path)):
        samples, rate = _read_file(Path(source), max_seconds)
    elif isinstance(source, tuple) and len(source) == 2:
        first, second = source
        # Gradio hands (rate, samples); Python users tend to write (samples, rate).
        samples, rate = (second, first) if np.isscalar(first) else (first, second)
    else:
        raise AudioError("audio must be a file path or a (samples, sample_rate) pair")
    return prepare(np.asarray(samples), check_rate(rate), max_seconds=max_seconds)


def check_rate(rate) -> int:
    """The sample rate as an int, or ``AudioError`` when it is not a rate audio is recorded at."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise AudioError(f"invalid sample rate {str(rate)[:40]!r}") from None
    if not (MIN_RATE <= value <= MAX_RATE) or value != int(value):
        shown = f"{value:,.0f} Hz" if np.isfinite(value) else str(value)
        raise AudioError(f"the sample rate {shown} is not supported: give audio recorded at "
                         f"{MIN_RATE // 1000}–{MAX_RATE // 1000} kHz")
    return int(value)


def _read_file(path: Path, max_seconds: float | None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not path.is_file():
        raise AudioError(f"no such audio file: {path.name}")
    try:
        info = sf.info(str(path))
    except (RuntimeError, TypeError, ValueError, sf.SoundFileError) as error:
        raise AudioError(f"'{path.name}' is not a readable audio file ({_first_line(error, path)})") from None
    if info.frames <= 0 or info.channels <= 0:
        raise AudioError(f"'{path.name}' contains no audio")
    rate = check_rate(info.samplerate)
    check_length(info.frames / rate, max_seconds)
    if info.channels > MAX_CHANNELS:
        raise AudioError(f"'{path.name}' has {info.channels} channels; at most {MAX_CHANNELS} are supported")
    if info.frames * info.channels > MAX_READ_SAMPLES:
        raise AudioError(f"'{path.name}' is too large to read ({info.frames:,} frames × {info.channels} channels)")
    try:
        samples, rate = sf.read(str(path), frames=info.frames, dtype="float32", always_2d=True)
    except (RuntimeError, TypeError, ValueError, sf.SoundFileError) as error:
        raise AudioError(f"'{path.name}' could not be decoded ({_first_line(error, path)})") from None
    return samples, rate


def prepare(samples: np.ndarray, rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Scale to [-1, 1] floats, mix to mono, resample to 16 kHz and validate."""
    rate = check_rate(rate)
    mono = to_mono(to_float(samples))
    if mono.size == 0:
        raise AudioError("the audio is empty (0 samples)")
    check_length(mono.size / rate, max_seconds)
    if not np.isfinite(mono).all():
        raise AudioError("the audio contains NaN or infinite samples")
    check_scale(mono)
    check_saturation(mono)
    audio = resample(mono, rate, SAMPLE_RATE)
    check_sound(audio)
    return audio


def check_length(duration: float, max_seconds: float | None) -> None:
    if max_seconds is not None and duration > max_seconds:
        raise AudioError(
            f"the audio is {duration:.1f} s long; this model's encoder takes at most {max_seconds:.0f} s. "
            "Trim it to the part you want to see traced."
        )
    if duration < MIN_SECONDS:
        raise AudioError(f"the audio is {duration * 1000:.0f} ms long; at least {MIN_SECONDS * 1000:.0f} ms is needed")


def check_scale(mono: np.ndarray) -> None:
    """Float samples far beyond ±1 are on the wrong scale (often integer PCM stored as floats)."""
    peak = float(np.abs(mono).max())
    if peak <= MAX_FLOAT_PEAK:
        return
    hint = " (it looks like 16-bit integer PCM stored as floats: divide by 32768)" if peak <= 32_768 * 1.01 else ""
    raise AudioError(f"float samples must lie within [-1, 1], but this audio peaks at {peak:.3g}{hint}")


def check_saturation(mono: np.ndarray) -> None:
    share = float(np.count_nonzero(np.abs(mono) >= FULL_SCALE)) / mono.size
    if share > MAX_SATURATED_SHARE:
        raise AudioError(f"the audio is saturated: {100 * share:.0f}% of its samples sit at full scale "
                         "(clipped noise or a broken recording), nothing a speech model can read")


def check_sound(audio: np.ndarray) -> None:
    """Refuse silence: judged without the DC offset (a constant signal is silent) and on 20 ms
    frames (one click in silence is not speech either)."""
    centred = audio - audio.mean(dtype=np.float64)
    frame = int(SOUND_FRAME_SECONDS * SAMPLE_RATE)
    usable = centred[: centred.size // frame * frame].reshape(-1, frame) if centred.size >= frame else centred[None]
    loud_frames = int(np.count_nonzero(np.abs(usable).max(axis=1) >= SILENCE_PEAK))
    if loud_frames < min(MIN_SOUND_FRAMES, usable.shape[0]):
        raise AudioError("the audio is silent (below -60 dBFS once its DC offset is removed): nothing to transcribe")


def to_float(samples: np.ndarray) -> np.ndarray:
    """Integer PCM → float32 in [-1, 1] by the format's full scale (never by the peak: silence
    would divide by zero and quiet speech would be blown up)."""
    if samples.dtype == np.uint8:
        return (samples.astype(np.float32) - 128.0) / 128.0
    if samples.dtype != np.bool_ and np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    if np.issubdtype(samples.dtype, np.floating):
        with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused as such
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
    if samples.shape[channel_axis] > MAX_CHANNELS:
        raise AudioError(f"the audio has {samples.shape[channel_axis]} channels; at most {MAX_CHANNELS} are supported")
    with np.errstate(over="ignore"):
        return samples.mean(axis=channel_axis, dtype=np.float32)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (anti-aliased) between integer rates. The polyphase filter grows with
    the reduced ratio's terms, so a ratio with large ones (a rate sharing no factor with the
    target) is replaced by the nearest one with small terms, and the output cut or padded to the
    exact length (a pitch change of under 0.1%, durations kept). Rates outside
    ``MIN_RATE``–``MAX_RATE`` are refused (``AudioError``)."""
    rate, target = check_rate(rate), check_rate(target)
    if rate == target:
        return np.ascontiguousarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    divisor = gcd(rate, target)
    up, down = target // divisor, rate // divisor
    if max(up, down) > MAX_RESAMPLE_FACTOR:
        nearest = Fraction(target, rate).limit_denominator(MAX_RESAMPLE_FACTOR)
        up, down = nearest.numerator, nearest.denominator
    out = resample_poly(samples, up, down).astype(np.float32)
    length = -(-samples.shape[0] * target // rate)  # what the exact ratio gives: ceil(n · target / rate)
    if out.shape[0] > length:
        out = out[:length]
    elif out.shape[0] < length:
        out = np.pad(out, [(0, length - out.shape[0])] + [(0, 0)] * (out.ndim - 1))
    return out


def _first_line(error: Exception, path: Path) -> str:
    """The error's first line, with the file's location on the server left out."""
    text = str(error).strip().replace(str(path), path.name)
    return text.splitlines()[0] if text else type(error).__name__
