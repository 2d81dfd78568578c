"""Drascula's speech: drascula.dat's text tables and the clip -> (speaker, text) rule, checked on
files built here in the documented format; one integration test on the real Debian package."""

import numpy as np
import pytest
from game_packages import make_dat

from tiny_audio.loading.weights.cache import cache_dir
from tiny_audio.pipeline.audio import SAMPLE_RATE
from tiny_audio.training.human.debian import PackageUnavailable, fetch_package
from tiny_audio.training.human.drascula import (
    DAT_NAME,
    GAME_DIR,
    TEXT_TABLES,
    DrasculaFormatError,
    clip_line,
    drascula_clips,
    read_text_tables,
)

TEXTS = {
    "text": [[b"", b"I'M JOHN HACKER", b"", b"...WEARS A TOUPE\x90"], [b"", b"Soy John", b"", b"x"]],
    "textd": [[b""] + [b"D%d" % n for n in range(1, 84)], [b""] * 84],
    "textvb": [[b"", b"WHO THE HELL IS CALLING?"], [b"", b"Quien?"]],
    "textb": [[b"", b"I'M HERE, DRINKING"], [b"", b"Bebo"]],
}


def test_tables_parse_exactly_in_each_language():
    data = make_dat(TEXTS)
    english = read_text_tables(data)
    assert english["text"] == ["", "I'M JOHN HACKER", "", "...WEARS A TOUPEÉ"]  # code page 437
    assert english["textvb"] == ["", "WHO THE HELL IS CALLING?"]
    assert english["textd"][83] == "D83"
    assert set(english) == set(TEXT_TABLES)
    assert read_text_tables(data, language=1)["text"][1] == "Soy John"


def test_bad_files_are_refused_with_a_reason():
    data = make_dat(TEXTS)
    with pytest.raises(DrasculaFormatError, match="magic"):
        read_text_tables(b"DRACULA!" + data[8:])
    with pytest.raises(DrasculaFormatError, match="version 5"):
        read_text_tables(make_dat(TEXTS, version=5))
    with pytest.raises(DrasculaFormatError, match="after its last table"):
        read_text_tables(data + b"\0")
    with pytest.raises(DrasculaFormatError, match="ends at byte"):
        read_text_tables(data[:-300])
    with pytest.raises(DrasculaFormatError, match="language 2"):
        read_text_tables(data, language=2)


def test_clip_names_map_to_speaker_and_text():
    tables = read_text_tables(make_dat(TEXTS))
    assert clip_line("1.ALS", tables) == ("john_hacker", "I'M JOHN HACKER")
    assert clip_line("vb1.als", tables) == ("von_braun", "WHO THE HELL IS CALLING?")
    assert clip_line("B1.ALS", tables) == ("drunk", "I'M HERE, DRINKING")
    assert clip_line("D5.ALS", tables) == ("drascula", "D5")
    assert clip_line("D57.ALS", tables) == ("john_hacker", "D57")
    assert clip_line("D70.ALS", tables) == ("blind_man", "D70")
    assert clip_line("D82.ALS", tables) == ("bartender", "D82")
    assert clip_line("D83.ALS", tables) == ("trunk", "D83")
    for textless in ("2.ALS", "S1.ALS", "F2.ALS", "B61.ALS", "9.ALS", "DRF.BIN", "AN7_3.ALG"):
        assert clip_line(textless, tables) is None


def _write_game(root, clips: dict[str, bytes]):
    game = root / GAME_DIR
    game.mkdir(parents=True)
    (game / DAT_NAME).write_bytes(make_dat(TEXTS))
    for name, samples in clips.items():
        (game / name).write_bytes(samples)
    return game


def test_clips_carry_speaker_text_and_samples(tmp_path):
    tone = (128 + 100 * np.sin(np.arange(11_025) * 2 * np.pi * 440 / 11_025)).astype(np.uint8)
    silence = np.full(11_025, 128, dtype=np.uint8)
    _write_game(
        tmp_path,
        {
            "1.ALS": bytes([128, 0, 255, 192]),
            "VB1.ALS": silence.tobytes() + tone.tobytes() + silence.tobytes(),
            "S1.ALS": bytes(10),
            "2.ALS": bytes(10),
        },
    )
    clips = drascula_clips(tmp_path)
    assert [(c.clip_id, c.speaker, c.text) for c in clips] == [
        ("1", "drascula/john_hacker", "I'M JOHN HACKER"),
        ("VB1", "drascula/von_braun", "WHO THE HELL IS CALLING?"),
    ]
    samples, rate = clips[0].read()
    assert rate == 11_025 and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, [0.0, -1.0, 127 / 128, 0.5])
    assert clips[1].seconds() == pytest.approx(3.0)
    full = clips[1].read_16k(trim=False)
    assert full.size == 3 * SAMPLE_RATE
    trimmed = clips[1].read_16k()
    assert 1.1 * SAMPLE_RATE <= trimmed.size <= 1.3 * SAMPLE_RATE  # the tone and 0.1 s either side


def test_missing_data_file_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="drascula"):
        drascula_clips(tmp_path)


@pytest.mark.integration
def test_real_package_has_742_texted_clips():
    try:
        package = fetch_package("drascula", cache_dir() / "debian")
    except PackageUnavailable as error:
        pytest.skip(f"Debian package drascula unavailable here: {error}")
    clips = drascula_clips(package.root)
    assert len(clips) == 742
    speakers = {c.speaker for c in clips}
    assert len(speakers) == 12 and "drascula/john_hacker" in speakers
    assert sum(c.seconds() for c in clips) / 60 == pytest.approx(46.5, abs=0.5)
    by_id = {c.clip_id: c for c in clips}
    assert by_id["VB1"].text == "WHO THE HELL IS CALLING AT THIS TIME?"
    assert by_id["D68"].speaker == "drascula/blind_man"
    samples, rate = by_id["1"].read()
    assert rate == 11_025 and 2.5 < samples.size / rate < 3.5
    assert package.doc_file("copyright").read_text().count("Alcachofa Soft") >= 2
