"""Audio input devices through sounddevice (PortAudio), for the local live demo.

sounddevice is imported lazily, here only: without the PortAudio library (``libportaudio2`` on
Debian/Ubuntu) its import raises ``OSError``, which must never break the web app or the tests.
"""

from __future__ import annotations

from typing import Optional

PORTAUDIO_MISSING = (
    "the PortAudio library is missing (sounddevice needs it for the microphone): install it "
    "(Debian/Ubuntu: sudo apt-get install libportaudio2; macOS: brew install portaudio), "
    "or play a file with --input-file FILE"
)
SOUNDDEVICE_MISSING = "sounddevice is not installed: pip install sounddevice (or play a file with --input-file FILE)"


class DeviceError(Exception):
    """No way to record from the requested input; the message says what exists and what to do."""


def import_sounddevice():
    try:
        import sounddevice
    except OSError:  # the wheel imports, but finds no PortAudio shared library
        raise DeviceError(PORTAUDIO_MISSING) from None
    except ImportError:
        raise DeviceError(SOUNDDEVICE_MISSING) from None
    return sounddevice


def input_devices(devices: list[dict]) -> list[dict]:
    return [d for d in devices if d.get("max_input_channels", 0) > 0]


def describe_devices(devices: list[dict]) -> str:
    """``input devices: 0 'USB mic', 4 'pulse'``: how errors list what there is."""
    inputs = input_devices(devices)
    if inputs:
        return "input devices: " + ", ".join(f"{d['index']} {d['name']!r}" for d in inputs)
    if devices:
        return f"no audio input device found (PortAudio sees only {len(devices)} output device(s))"
    return "no audio input device found (PortAudio sees no audio device at all)"


def choose_input_device(devices: list[dict], requested: Optional[str] = None, default: Optional[int] = None) -> int:
    """The index of the input device to record from.

    ``devices``: as ``sounddevice.query_devices()`` returns them (dicts with ``name``, ``index``,
    ``hostapi``, ``max_input_channels``); ``requested``: an index or a case-insensitive part of a
    name (None: the system's default input, else the first input device); ``default``: the
    system's default input index (-1 or None when there is none).
    """
    inputs = input_devices(devices)
    if not inputs:
        raise DeviceError(describe_devices(devices))
    if requested is None or requested == "":
        if default is not None and any(d["index"] == default for d in inputs):
            return default
        return inputs[0]["index"]
    if requested.strip().isdigit():
        index = int(requested)
        if any(d["index"] == index for d in inputs):
            return index
        raise DeviceError(f"no input device with index {index}; {describe_devices(devices)}")
    wanted = requested.lower()
    matches = [d for d in inputs if wanted in d["name"].lower()]
    exact = [d for d in matches if d["name"].lower() == wanted]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]["index"]
    if matches:
        names = ", ".join(f"{d['index']} {d['name']!r}" for d in matches)
        raise DeviceError(f"input device {requested!r} is ambiguous: it matches {names}; give its index")
    raise DeviceError(f"no input device matches {requested!r}; {describe_devices(devices)}")


def query_devices(sd) -> tuple[list[dict], Optional[int]]:
    """All devices and the default input index, as plain data."""
    try:
        devices = [dict(d) for d in sd.query_devices()]
        default = sd.default.device[0]
    except sd.PortAudioError as error:
        raise DeviceError(f"PortAudio could not list the audio devices ({error})") from None
    return devices, (default if isinstance(default, int) and default >= 0 else None)


def list_devices() -> str:
    sd = import_sounddevice()
    devices, default = query_devices(sd)
    inputs = input_devices(devices)
    if not inputs:
        return describe_devices(devices)
    hostapis = {i: api["name"] for i, api in enumerate(sd.query_hostapis())}
    lines = []
    for d in inputs:
        mark = "*" if d["index"] == default else " "
        lines.append(
            f"{mark}{d['index']:>3}  {d['name']}  ({hostapis.get(d['hostapi'], '?')}, "
            f"{d['max_input_channels']} in, {d.get('default_samplerate', 0):.0f} Hz)"
        )
    return "\n".join(lines)
