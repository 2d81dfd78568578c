"""Whatever bytes or arrays arrive, the audio loader returns 16 kHz mono float32 audio or raises its
own AudioError, nothing else, and answers within a time bound (hypothesis's deadline per example)."""

import struct
from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tiny_audio.pipeline.audio import AudioError, load_audio, prepare

# Generous on a loaded 2-core machine; a resampling bomb took 23 s, a refusal takes milliseconds.
BOUNDED = settings(max_examples=150, deadline=timedelta(seconds=3), suppress_health_check=[HealthCheck.too_slow])


def audio_or_audio_error(call):
    try:
        audio = call()
    except AudioError:
        return None
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size > 0
    assert np.isfinite(audio).all()
    return audio


def wav_bytes(rate: int, channels: int, bits: int, fmt: int, declared: int, data: bytes) -> bytes:
    """A RIFF/WAVE file with any header fields (lying about its size or not) and any data."""
    block = max(1, channels * bits // 8)
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    body += b"data" + struct.pack("<I", declared & 0xFFFFFFFF) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@BOUNDED
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".wav", ".flac", ".mp3", ".ogg", ".bin"]))
def test_random_bytes_are_audio_or_an_audio_error(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"upload{suffix}"
    path.write_bytes(data)
    audio_or_audio_error(lambda: load_audio(path, max_seconds=30))


@BOUNDED
@given(
    rate=st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([8_000, 16_000, 44_100, 48_000, 383_987, 50_000_017])),
    channels=st.one_of(st.sampled_from([1, 2]), st.integers(0, 300)),
    bits=st.sampled_from([16, 8, 24, 32, 64, 0, 7]),
    fmt=st.sampled_from([1, 3, 6, 7, 0xFFFE, 0]),
    declared=st.integers(0, 2**32 - 1),
    data=st.binary(max_size=8192),
)
def test_wav_headers_with_any_fields_are_audio_or_an_audio_error(tmp_path_factory, rate, channels, bits, fmt,
                                                                  declared, data):
    path = tmp_path_factory.mktemp("wav") / "upload.wav"
    path.write_bytes(wav_bytes(rate, channels, bits, fmt, declared, data))
    audio_or_audio_error(lambda: load_audio(path, max_seconds=30))


SAMPLE_TYPES = st.sampled_from([np.int8, np.uint8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64,
                                np.bool_, np.complex64])


@BOUNDED
@given(
    samples=hnp.arrays(SAMPLE_TYPES, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5000)
                       .filter(lambda shape: int(np.prod(shape)) <= 200_000)),
    rate=st.one_of(st.integers(-10, 10**9), st.floats(allow_nan=True), st.sampled_from([16_000, 44_100, 96_001])),
    order=st.booleans(),
)
def test_random_arrays_are_audio_or_an_audio_error(samples, rate, order):
    pair = (rate, samples) if order else (samples, rate)
    audio_or_audio_error(lambda: load_audio(pair, max_seconds=30))


@BOUNDED
@given(samples=hnp.arrays(np.float32, st.integers(1_600, 48_000), elements=st.floats(-1, 1, width=32)),
       rate=st.integers(4_000, 384_000))
def test_any_in_range_rate_resamples_to_the_right_length(samples, rate):
    audio = audio_or_audio_error(lambda: prepare(samples, rate))
    if audio is not None:
        assert abs(audio.size - samples.size * 16_000 / rate) <= 1 + samples.size * 16_000 / rate * 1e-4


def test_a_rate_resampled_through_a_nearby_ratio_keeps_its_exact_length():
    # 16000/71975 reduces to 640/2879, too large a filter; the nearby ratio made one sample too many.
    tone = np.sin(np.arange(9765) * 0.05).astype(np.float32)
    assert prepare(tone, 71975).size == 2171  # ceil(9765 · 16000 / 71975)
