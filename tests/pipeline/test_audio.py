import numpy as np
import pytest
import soundfile as sf
from tiny_models import speechlike

from tiny_audio.pipeline.audio import SAMPLE_RATE, AudioError, load_audio, prepare, to_float, to_mono


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


# ----- what a hostile or broken upload cannot do


def write_wav_header_rate(path, rate, frames=2_000, channels=1):
    """A 16-bit PCM WAV that declares ``rate`` (written by libsndfile itself)."""
    sf.write(path, np.zeros((frames, channels), dtype=np.int16) + 100, rate, subtype="PCM_16")


@pytest.mark.parametrize("rate", [50_000_017, 4_000_037, 1_000, 500_000])
def test_sample_rate_out_of_range_is_refused_from_the_header(tmp_path, monkeypatch, rate):
    path = tmp_path / "bomb.wav"
    write_wav_header_rate(path, rate, frames=int(0.2 * rate) if rate < 1e6 else 2_000)
    read_calls = []
    monkeypatch.setattr(sf, "read", lambda *a, **k: read_calls.append(a))
    with pytest.raises(AudioError, match="sample rate .* not supported: give audio recorded at 4–384 kHz"):
        load_audio(path, max_seconds=30)
    assert read_calls == []


@pytest.mark.parametrize("rate", [50_000_017, 0, -16_000, 3_999, float("nan"), 44_100.5])
def test_arrays_at_unsupported_rates_are_refused_before_resampling(monkeypatch, rate):
    import scipy.signal

    monkeypatch.setattr(scipy.signal, "resample_poly", lambda *a, **k: pytest.fail("resampled"))
    with pytest.raises(AudioError, match="sample rate"):
        load_audio((tone(0.5, 16_000), rate))


def test_too_short_is_refused_before_resampling(monkeypatch):
    import scipy.signal

    monkeypatch.setattr(scipy.signal, "resample_poly", lambda *a, **k: pytest.fail("resampled"))
    with pytest.raises(AudioError, match="ms long"):
        prepare(tone(0.05, 44_100), 44_100)


@pytest.mark.parametrize("rate", [383_987, 96_001, 4_001, 44_101])
def test_rates_sharing_no_factor_with_16k_resample_with_a_bounded_filter(monkeypatch, rate):
    import scipy.signal

    from tiny_audio.pipeline import audio as audio_module

    factors = []
    real = scipy.signal.resample_poly

    def recording(x, up, down, *args, **kwargs):
        factors.append((up, down))
        return real(x, up, down, *args, **kwargs)

    monkeypatch.setattr(scipy.signal, "resample_poly", recording)
    out = load_audio((tone(1.0, rate), rate))
    assert abs(out.size - 16_000) <= 2
    assert max(factors[0]) <= 4 * audio_module.MAX_RESAMPLE_FACTOR
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) * SAMPLE_RATE / out.size == pytest.approx(440, abs=2)  # the tone kept its pitch


def test_header_with_too_many_channels_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "many.wav"
    write_wav_header_rate(path, 16_000, frames=1_600, channels=64)
    monkeypatch.setattr(sf, "read", lambda *a, **k: pytest.fail("read"))
    with pytest.raises(AudioError, match="64 channels; at most 8"):
        load_audio(path)


@pytest.mark.parametrize(
    "samples, message",
    [
        (np.full(16_000, 0.5, dtype=np.float32), "silent .* DC offset"),  # constant DC
        (np.full(16_000, 0.5, dtype=np.float32) + tone(1.0, 16_000, amplitude=1e-4), "silent"),
        (np.concatenate([np.zeros(8_000), [0.8], np.zeros(8_000)]).astype(np.float32), "silent"),  # one click
        (np.random.default_rng(0).uniform(-1e6, 1e6, 16_000).astype(np.float32), r"within \[-1, 1\].*1e\+06"),
        (tone(1.0, 16_000) * 32_767, "integer PCM stored as floats"),
        (np.clip(np.random.default_rng(0).standard_normal(16_000) * 10, -1, 1).astype(np.float32), "saturated"),
        (np.sign(tone(1.0, 16_000)) * 32_767, "integer PCM"),
        (np.full(16_000, 1e39), "NaN or infinite"),  # float64 beyond float32
    ],
)
def test_nonsense_is_refused_not_transcribed(samples, message):
    with pytest.raises(AudioError, match=message):
        prepare(samples, 16_000)


def test_quiet_speech_clipped_speech_and_dc_offset_are_still_accepted():
    quiet = tone(1.0, 16_000, amplitude=0.003)
    assert prepare(quiet, 16_000).size == 16_000
    offset = tone(1.0, 16_000) + 0.4
    np.testing.assert_allclose(prepare(offset, 16_000), offset)  # judged without the offset, given with it
    hot = np.clip(speechlike(2.0) * 8, -1, 1)  # overdriven speech: a fifth of its samples clipped
    assert np.mean(np.abs(hot) >= 0.99) > 0.2 and prepare(hot, 16_000).size == 32_000
    overshoot = tone(1.0, 16_000, amplitude=1.3)  # a float mix slightly over full scale
    assert prepare(overshoot, 16_000).size == 16_000


def test_error_messages_never_show_the_server_path(tmp_path):
    fake = tmp_path / "notes.wav"
    fake.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))
    for path in (fake, tmp_path / "missing.wav"):
        with pytest.raises(AudioError) as error:
            load_audio(path)
        assert str(tmp_path) not in str(error.value) and path.name in str(error.value)
