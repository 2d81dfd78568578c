"""Speech clips read from byte ranges, per-speaker durations, the held-out speaker choice, and
fetching a Debian package (apt-get and dpkg-deb replaced by stand-ins)."""

import io
import os
import stat

import numpy as np
import pytest
import soundfile as sf

from tiny_audio.training.human import debian
from tiny_audio.training.human.clip import RAW_U8, SOUNDFILE, SpeechClip, held_out_speakers, speaker_durations


def _clip(path, speaker="game/a", offset=0, size=None, encoding=RAW_U8, rate=1000, clip_id="c"):
    size = path.stat().st_size - offset if size is None else size
    return SpeechClip("game", clip_id, speaker, "HI", path, offset, size, encoding, rate)


def test_raw_clip_reads_its_byte_range_only(tmp_path):
    path = tmp_path / "bundle"
    path.write_bytes(b"xx" + bytes([128, 64, 192]) + b"yy")
    clip = _clip(path, offset=2, size=3)
    samples, rate = clip.read()
    np.testing.assert_array_equal(samples, [0.0, -0.5, 0.5])
    assert rate == 1000 and clip.seconds() == pytest.approx(0.003)
    with pytest.raises(ValueError, match="ends before"):
        _clip(path, offset=5, size=9).read()


def test_soundfile_clip_inside_a_bundle(tmp_path):
    buffer = io.BytesIO()
    stereo = np.stack([np.linspace(-0.5, 0.5, 800), np.linspace(-0.5, 0.5, 800)], axis=1)
    sf.write(buffer, stereo, 8000, format="WAV", subtype="PCM_16")
    path = tmp_path / "bundle"
    path.write_bytes(b"head" + buffer.getvalue() + b"tail")
    clip = _clip(path, offset=4, size=len(buffer.getvalue()), encoding=SOUNDFILE, rate=0)
    samples, rate = clip.read()
    assert rate == 8000 and samples.shape == (800,)
    np.testing.assert_allclose(samples, stereo[:, 0], atol=1e-4)
    assert clip.seconds() == pytest.approx(0.1)
    # a rate set on the clip overrides the header's (a game whose files claim the wrong one)
    assert _clip(path, offset=4, size=len(buffer.getvalue()), encoding=SOUNDFILE, rate=8800).read()[1] == 8800


def test_speaker_durations_add_up_longest_first(tmp_path):
    short, long = tmp_path / "s", tmp_path / "l"
    short.write_bytes(bytes(500))
    long.write_bytes(bytes(2000))
    clips = [_clip(short, "game/b"), _clip(long, "game/a"), _clip(short, "game/b")]
    assert speaker_durations(clips) == {"game/a": 2.0, "game/b": 1.0}


def test_held_out_speakers_are_reproducible_and_spare_the_hero():
    durations = {"game/hero": 5000.0, **{f"game/side{i}": 300.0 + i for i in range(12)}}
    chosen = held_out_speakers(durations, min_seconds=1800, min_speakers=5)
    assert chosen == held_out_speakers(dict(reversed(list(durations.items()))), 1800, 5)
    assert "game/hero" not in chosen
    assert len(chosen) >= 5 and sum(durations[s] for s in chosen) >= 1800
    with pytest.raises(ValueError, match="asked for"):
        held_out_speakers(durations, min_seconds=10_000, min_speakers=5)


def _stand_in(bin_dir, name, script):
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_fetch_package_downloads_unpacks_and_reuses(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    _stand_in(bin_dir, "apt-get", f'echo "$@" >> {calls}\necho deb > "$2"_1.0-2_all.deb\n')
    _stand_in(
        bin_dir,
        "dpkg-deb",
        f'echo "$@" >> {calls}\n'
        'if [ "$1" = "-f" ]; then echo 1.0-2; exit 0; fi\n'
        'mkdir -p "$3/usr/share/doc/game" && echo C > "$3/usr/share/doc/game/copyright"\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    package = debian.fetch_package("game", tmp_path / "cache")
    assert package.version == "1.0-2"
    assert package.doc_file().read_text() == "C\n"
    first_calls = calls.read_text()
    assert first_calls.startswith("download game\n")
    again = debian.fetch_package("game", tmp_path / "cache")
    assert again == package and calls.read_text() == first_calls  # nothing run the second time


def test_fetch_package_failure_says_how_to_fix(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stand_in(bin_dir, "apt-get", 'echo "E: Unable to locate package $2" >&2; exit 100\n')
    _stand_in(bin_dir, "dpkg-deb", "exit 0\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(debian.PackageUnavailable, match="apt-get update"):
        debian.fetch_package("game", tmp_path / "cache")
    (bin_dir / "apt-get").unlink()
    with pytest.raises(debian.PackageUnavailable, match="apt-get is not on PATH.*game_\\*.deb"):
        debian.fetch_package("game", tmp_path / "cache")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(debian.PackageUnavailable, match="dpkg-deb is not on PATH"):
        debian.fetch_package("game", tmp_path / "cache")
