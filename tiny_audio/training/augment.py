"""Seeded augmentation of 16 kHz clips in numpy/scipy: speed, reverb (synthetic or a real room's
impulse response), noise, telephone band, the band of 8–11 kHz audio, gain.

    settings = sample_augmentation(rng)         # what the manifest records as ``augment``
    samples = augment(samples, settings, seed)  # the same samples for the same settings and seed

Every random draw comes from the generator passed in, so a clip depends on its record alone.
``trim_silence`` evens out the silence that engines pad their clips with. Settings without
"room" and "band_limit" (every clip of render version 1) come out as they always did.
"""

from __future__ import annotations

import numpy as np

from tiny_audio.pipeline.audio import SAMPLE_RATE

NOISE_COLORS = ("white", "pink", "brown")
REFERENCE_PEAK = 0.5  # every clip is brought to -6 dBFS before augmentation, so gain_db is comparable
PEAK_LIMIT = 0.99


def change_speed(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (pitch moves with it, like tape): the length becomes
    len / factor. The factor is taken to two decimals."""
    from math import gcd

    from scipy.signal import resample_poly

    up, down = 100, round(factor * 100)
    divisor = gcd(up, down)
    return resample_poly(samples, up // divisor, down // divisor).astype(np.float32)


def colored_noise(length: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise whose power falls as 1/f^k: white k=0, pink k=1, brown k=2."""
    exponent = {"white": 0, "pink": 1, "brown": 2}[color]
    noise = rng.standard_normal(length)
    if exponent:
        spectrum = np.fft.rfft(noise)
        freqs = np.fft.rfftfreq(length)
        freqs[0] = freqs[1] if length > 1 else 1.0  # no infinite DC gain
        noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=length)
        noise -= noise.mean()
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)


def add_noise(samples: np.ndarray, snr_db: float, color: str, rng: np.random.Generator) -> np.ndarray:
    """Add noise at ``snr_db`` — the ratio of the clip's mean power to the noise's, in dB."""
    power = float(np.mean(samples.astype(np.float64) ** 2))
    noise = colored_noise(samples.size, color, rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return (samples + noise).astype(np.float32)


def telephone(samples: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A narrow-band phone line: 300–3400 Hz band-pass, then down to 8 kHz and back to ``rate``."""
    from scipy.signal import butter, firwin, resample_poly, sosfilt

    band = sosfilt(butter(4, [300, 3400], btype="bandpass", fs=rate, output="sos"), samples)
    # resample_poly's default 41-tap filter lets ~-30 dB through just above 4 kHz; this one is
    # steep enough to leave nothing there (< -60 dB).
    low_pass = firwin(161, 3700, window=("kaiser", 8.0), fs=rate)
    narrow = resample_poly(band, 8000, rate, window=low_pass)
    return resample_poly(narrow, rate, 8000, window=low_pass).astype(np.float32)


def resample_steep(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling whose low-pass stops at 0.9 of the lower Nyquist frequency with
    < -60 dB above it (scipy's default filter lets ~-23 dB through around that frequency)."""
    from math import gcd

    from scipy.signal import firwin, resample_poly

    divisor = gcd(rate, target)
    up, down = target // divisor, rate // divisor
    widest = max(up, down)
    taps = firwin(2 * 16 * widest + 1, 0.9 / widest, window=("kaiser", 8.0))
    return resample_poly(samples, up, down, window=taps).astype(np.float32)


def band_limit(samples: np.ndarray, rate: int, bits: int | None = None, own_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Audio as if stored at ``rate`` Hz (e.g. 11,025, like the games' speech) and played back at
    ``own_rate``: nothing above ~0.45 × ``rate``; with ``bits`` (8), rounded to that many bits
    on the way, as unsigned 8-bit PCM stores it."""
    low = resample_steep(samples, own_rate, rate)
    if bits:
        levels = 2 ** (bits - 1)
        low = np.clip(np.round(low * levels), -levels, levels - 1) / levels
    out = resample_steep(low, rate, own_rate)
    return out[: samples.size] if out.size >= samples.size else np.pad(out, (0, samples.size - out.size))


def add_room(samples: np.ndarray, response: np.ndarray, mix: float) -> np.ndarray:
    """Convolve with a room's impulse response (starting at the direct sound, unit energy) and
    mix ``mix`` of it with ``1 - mix`` of the dry clip; the clip keeps its length."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(samples, response)[: samples.size]
    return ((1 - mix) * samples + mix * wet).astype(np.float32)


def impulse_response(rt60: float, drr_db: float, rng: np.random.Generator, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A synthetic room: a unit direct path followed by Gaussian noise whose amplitude decays by
    60 dB over ``rt60`` seconds, scaled so direct/reverberant energy is ``drr_db``."""
    t = np.arange(1, int(rt60 * rate)) / rate
    tail = rng.standard_normal(t.size) * np.exp(-np.log(1000) * t / rt60)
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    return np.concatenate([[1.0], tail]).astype(np.float32)


def add_reverb(samples: np.ndarray, rt60: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with ``impulse_response``; the clip keeps its length (the tail past it is cut)."""
    from scipy.signal import fftconvolve

    return fftconvolve(samples, impulse_response(rt60, drr_db, rng))[: samples.size].astype(np.float32)


def apply_gain(samples: np.ndarray, gain_db: float, peak: float = PEAK_LIMIT) -> np.ndarray:
    """Scale by ``gain_db``; if that would push the peak past ``peak``, scale to ``peak`` instead
    (no clipping, ever)."""
    out = samples * 10 ** (gain_db / 20)
    top = float(np.abs(out).max(initial=0.0))
    return (out * (peak / top) if top > peak else out).astype(np.float32)


def sample_augmentation(rng: np.random.Generator) -> dict:
    """The augmentation of one clip; {} (a clean clip) one time in five."""
    if rng.random() < 0.2:
        return {}
    augment: dict = {}
    if rng.random() < 0.5:
        factor = round(float(rng.uniform(0.9, 1.1)), 2)
        if factor != 1.0:
            augment["speed"] = factor
    if rng.random() < 0.25:
        augment["reverb"] = {
            "rt60_s": round(float(rng.uniform(0.1, 0.4)), 3),
            "drr_db": round(float(rng.uniform(2, 10)), 1),
        }
    if rng.random() < 0.5:
        augment["noise"] = {"color": str(rng.choice(NOISE_COLORS)), "snr_db": round(float(rng.uniform(10, 30)), 1)}
    if rng.random() < 0.15:
        augment["telephone"] = {"band_hz": [300, 3400], "rate": 8000}
    augment["gain_db"] = round(float(rng.uniform(-12, 6)), 1)
    # Drawn after all of the above, so those settings are what they were before these two existed.
    if "reverb" not in augment and rng.random() < 0.2:
        from tiny_audio.training.rooms import ROOMS

        augment["room"] = {"response": str(rng.choice(sorted(ROOMS))), "mix": round(float(rng.uniform(0.5, 1.0)), 2)}
    if "telephone" not in augment and rng.random() < 0.35:
        augment["band_limit"] = {"rate": 25 * int(rng.integers(320, 442)), "bits": 8 if rng.random() < 0.3 else None}
    return augment


def augment(samples: np.ndarray, settings: dict, seed: int) -> np.ndarray:
    """Apply ``settings`` (from ``sample_augmentation``) in a fixed order: speed, reverb, room,
    noise, telephone, band limit, gain. Each random step draws from its own generator, seeded by
    (seed, step)."""
    if "speed" in settings:
        samples = change_speed(samples, settings["speed"])
    if "reverb" in settings:
        room = settings["reverb"]
        samples = add_reverb(samples, room["rt60_s"], room["drr_db"], np.random.default_rng([seed, 1]))
    if "room" in settings:
        from tiny_audio.training.rooms import room_response

        samples = add_room(samples, room_response(settings["room"]["response"]), settings["room"]["mix"])
    if "noise" in settings:
        noise = settings["noise"]
        samples = add_noise(samples, noise["snr_db"], noise["color"], np.random.default_rng([seed, 2]))
    if "telephone" in settings:
        samples = telephone(samples)
    if "band_limit" in settings:
        samples = band_limit(samples, settings["band_limit"]["rate"], settings["band_limit"]["bits"])
    if "gain_db" in settings:
        samples = apply_gain(samples, settings["gain_db"])
    return samples


def trim_silence(samples: np.ndarray, margin_s: float = 0.1, floor_db: float = -40.0) -> np.ndarray:
    """Cut leading/trailing stretches quieter than ``floor_db`` below the loudest 10 ms frame,
    keeping ``margin_s`` of them (engines pad clips with very different amounts of silence)."""
    frame = SAMPLE_RATE // 100
    count = samples.size // frame
    if count < 2:
        return samples
    rms = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (floor_db / 20))
    margin = int(margin_s * SAMPLE_RATE)
    return samples[max(0, loud[0] * frame - margin) : min(samples.size, (loud[-1] + 1) * frame + margin)]
