import numpy as np
import pytest
import soundfile as sf

from tiny_audio.pipeline.audio import AudioError, load_audio, prepare, to_float, to_mono


def tone(seconds, rate, amplitude=0.3):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_int16_stereo_48k_becomes_16k_mono_float32():
    left = (tone(1.0, 48_000) * 32767).astype(np.int16)
    stereo = np.stack([left, left], axis=1)
    audio = load_audio((48_000, stereo))  # Gradio's (rate, samples) order
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size == 16_000
    assert np.abs(audio).max() == pytest.approx(0.3, rel=0.02)


def test_pair_order_and_channel_first_layout():
    mono = tone(0.5, 22_050)
    a = load_audio((mono, 22_050))
    b = load_audio((np.stack([mono, mono]), 22_050))  # [channels, frames]
    assert a.size == 8000
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_integer_formats_scale_by_full_range_not_peak():
    assert to_float(np.array([-32768, 16384], dtype=np.int16)).tolist() == [-1.0, 0.5]
    assert to_float(np.array([0, 128, 255], dtype=np.uint8)).tolist() == pytest.approx([-1.0, 0.0, 0.9921875])
    assert to_float(np.array([2**30], dtype=np.int32))[0] == 0.5
    assert to_mono(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], dtype=np.float32)).tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    "samples, message",
    [
        (np.zeros(0, dtype=np.float32), "empty"),
        (tone(0.05, 16_000), "ms long"),
        (np.zeros(16_000, dtype=np.float32), "silent"),
        (np.full(16_000, np.nan, dtype=np.float32), "NaN"),
        (np.concatenate([tone(1, 16_000), [np.inf]]).astype(np.float32), "NaN or infinite"),
    ],
)
def test_bad_samples_get_a_clear_message(samples, message):
    with pytest.raises(AudioError, match=message):
        prepare(samples, 16_000)


def test_too_long_is_refused_from_the_file_header(tmp_path, monkeypatch):
    path = tmp_path / "long.wav"
    sf.write(path, tone(31, 8000), 8000)
    read_calls = []
    monkeypatch.setattr(sf, "read", lambda *a, **k: read_calls.append(a))
    with pytest.raises(AudioError, match="31.0 s long"):
        load_audio(path, max_seconds=30)
    assert read_calls == []


def test_non_audio_and_missing_files(tmp_path):
    fake = tmp_path / "notes.wav"
    fake.write_text("this is a text file, not audio\n" * 20)
    with pytest.raises(AudioError, match="not a readable audio file"):
        load_audio(fake)
    with pytest.raises(AudioError, match="no such audio file"):
        load_audio(tmp_path / "missing.wav")


def test_odd_sample_rate_file_round_trip(tmp_path):
    path = tmp_path / "odd.flac"
    sf.write(path, np.stack([tone(1.0, 11_025)] * 2, axis=1), 11_025)
    audio = load_audio(path)
    assert audio.size == 16_000
