"""The speech engines: Piper's noise taken from the seed, and the flite / festival command lines."""

import shutil

import numpy as np
import pytest

from tiny_audio.training import tts


def test_piper_noise_comes_from_the_seed():
    settings = {"length_scale": 1.0, "noise_scale": 0.667, "noise_w": 0.8, "noise_seed": 11}
    first, rate = tts.synthesize("piper", "joe", "Seeded noise makes this repeatable.", settings)
    again, _ = tts.synthesize("piper", "joe", "Seeded noise makes this repeatable.", settings)
    other, _ = tts.synthesize("piper", "joe", "Seeded noise makes this repeatable.", {**settings, "noise_seed": 12})
    assert rate == 22_050 and first.size > rate
    assert np.array_equal(first, again)
    assert first.size != other.size or not np.array_equal(first, other)


def test_flite_and_festival_commands(tmp_path, monkeypatch):
    text, out = tmp_path / "t.txt", tmp_path / "o.wav"
    flite = tts._file_command("flite", "slt", {"duration_stretch": 1.1, "f0_mean_hz": 170}, text, out)
    assert flite == ["flite", "-voice", "slt", "--setf", "duration_stretch=1.1", "--setf", "int_f0_target_mean=170",
                     "-f", str(text), "-o", str(out)]  # fmt: skip
    festival = tts._file_command("festival", "ked_diphone", {"duration_stretch": 0.9}, text, out)
    assert festival[-1] == str(text) and "(voice_ked_diphone)" in festival
    assert "(Parameter.set 'Duration_Stretch 0.9)" in festival
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(tts.EngineMissing, match="apt-get install"):
        tts.check_engine("flite")
