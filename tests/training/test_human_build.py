"""The human speech part of a data set, built from a stand-in Drascula package (no apt, no
network): records that render again bit for bit, transcripts and drop counts, a test split of
whole speakers that spares the hero, and a manifest shared with the synthetic clips."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from game_packages import to_u8, tone, write_drascula
from sample_text import write_fortunes

from tiny_audio.training import dataset
from tiny_audio.training.clips import read_manifest
from tiny_audio.training.human import records as human
from tiny_audio.training.human.clip import held_out_speakers
from tiny_audio.training.human.debian import fetch_package
from tiny_audio.training.human.drascula import drascula_clips

RATE = 16_000
LINES = {  # clip -> (subtitle, seconds of tone): speakers by prefix, see drascula.PREFIX_SPEAKERS
    "1": ("I'M JOHN HACKER", 1.0),
    "2": ("THAT'S THE SECOND BIGGEST DOOR I'VE SEEN IN MY LIFE", 1.5),
    "3": ("HA, HA, HA", 0.6),
    "4": ("SHHHH, I'M A SICKLES TRADER", 0.8),
    "D1": ("HEY IGOR, HOW IS EVERYTHING GOING?", 1.2),
    "D2": ("IT'S ALWAYS THE SAME STORY", 0.9),
    "VB1": ("WHO THE HELL IS CALLING AT THIS TIME?", 1.1),
    "VB2": ("YOU DON'T HAVE THEM", 0.7),
    "B1": ("I'M HERE, DRINKING", 1.0),
    "I1": ("MASTER, THIS IS NOT WORKING", 1.3),
    "E1": ("YOU... HEY YOU!", 0.8),
    "P1": ("I CAN ONLY PLAY THIS SONG", 1.0),
    "T1": ("WHAT HAPPENED? WHAT'S THE MATTER?", 1.0),
}
SILENT = "T2"  # a clip of silence: the pipeline refuses it, so it is left out


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("debian")
    lines = {name: (text, to_u8(tone(seconds, 200 + 40 * index), 11_025))
             for index, (name, (text, seconds)) in enumerate(LINES.items())}  # fmt: skip
    lines[SILENT] = ("NOTHING, NOTHING AT ALL", bytes([128]) * 11_025)
    write_drascula(cache, lines)
    return cache


@pytest.fixture(scope="module")
def built(cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("human")
    records, stats = dataset.build_human(out, cache, ("drascula",), jobs=2, progress=False,
                                         test_seconds=3.0, test_speakers=2)  # fmt: skip
    return out, records, stats


def test_records_hold_transcripts_and_the_audio_they_came_from(built, cache):
    out, records, stats = built
    assert stats["failed"] == {}
    assert stats["drops"] == {"drascula": {"non-word": 1, "no vowel": 1, "refused audio": 1}}
    assert len(records) == len(LINES) - 2 and read_manifest(out / "manifest.jsonl") == records
    by_clip = {r["clip_id"]: r for r in records}
    assert by_clip["D1"]["text"] == "Hey Igor, how is everything going?"
    assert by_clip["D1"]["source"] == LINES["D1"][0] and by_clip["D1"]["speaker"] == "drascula/drascula"
    clips = {c.clip_id: c for c in drascula_clips(fetch_package("drascula", cache).root)}
    for record in records:
        assert record["kind"] == "human" and record["origin"] == "drascula"
        assert record["split"] in ("train", human.TEST_SPLIT)
        samples, rate = sf.read(out / record["path"], dtype="int16")
        assert rate == RATE and samples.size == record["samples"]
        expected = np.round(np.clip(clips[record["clip_id"]].read_16k(), -1, 1) * 32767).astype(np.int16)
        np.testing.assert_array_equal(samples, expected)
        assert 0.5 < record["duration"] < 2.0  # a tone and 0.1 s of the silence either side


def test_the_test_split_is_whole_speakers_and_never_the_hero(built):
    _, records, stats = built
    held = set(stats["held_out_speakers"])
    test = [r for r in records if r["split"] == human.TEST_SPLIT]
    train = [r for r in records if r["split"] == "train"]
    assert {r["speaker"] for r in test} == held and not held & {r["speaker"] for r in train}
    assert len(held) >= 2 and sum(r["duration"] for r in test) >= 3.0
    assert "drascula/john_hacker" in {r["speaker"] for r in train}


def test_held_out_speakers_never_takes_the_named_ones():
    durations = {f"game/{name}": 100.0 for name in ("a", "b", "c", "d", "e")}
    for spared in durations:
        chosen = held_out_speakers(durations, 0, len(durations) - 1, max_share=0.5, never=[spared])
        assert spared not in chosen and len(chosen) == len(durations) - 1


def test_regenerated_clips_are_identical_and_changed_bytes_are_caught(built, cache, tmp_path):
    out, records, _ = built
    again, stats = dataset.regenerate(out / "manifest.jsonl", tmp_path / "again", jobs=1, progress=False, cache=cache)
    assert stats["failed"] == {} and len(again) == len(records)
    assert dataset.compare_clips(out, tmp_path / "again", records) == {}

    altered = tmp_path / "altered"
    clip = fetch_package("drascula", cache).root / records[0]["file"]
    for folder in cache.iterdir():  # a copy of the package in which one byte of the first clip differs
        shutil.copytree(folder, altered / folder.name)
    target = altered / "drascula" / "root" / records[0]["file"]
    data = bytearray(clip.read_bytes())
    data[len(data) // 2] ^= 0x40
    target.write_bytes(bytes(data))
    _, stats = dataset.regenerate(out / "manifest.jsonl", tmp_path / "third", jobs=1, progress=False, cache=altered)
    assert list(stats["failed"]) == [records[0]["id"]] and "differ" in stats["failed"][records[0]["id"]]


def test_a_rebuild_reuses_the_clips_and_keeps_synthetic_records(built, cache, tmp_path):
    out, records, _ = built
    shutil.copytree(out, tmp_path / "both")
    both = tmp_path / "both"
    fortunes = write_fortunes(tmp_path, 150)
    synthetic, _ = dataset.build(both, sentences=2, held_out=1, seed=3, jobs=1, engines=("espeak-ng",),
                                 fortunes=fortunes, progress=False, wordnet=None)  # fmt: skip
    manifest = read_manifest(both / "manifest.jsonl")
    assert manifest == synthetic + records  # the synthetic build kept the human clips, after its own
    again, stats = dataset.build_human(both, cache, ("drascula",), jobs=1, progress=False,
                                       test_seconds=3.0, test_speakers=2)  # fmt: skip
    assert again == records and stats["reused"] == len(records)
    assert read_manifest(both / "manifest.jsonl") == synthetic + records


def test_cli_reports_drops_and_splits_and_says_how_to_get_the_package(cache, tmp_path, capsys, monkeypatch):
    assert dataset.main(["human", "--out", str(tmp_path / "cli"), "--cache", str(cache), "--sources", "drascula",
                         "--jobs", "1", "--test-minutes", "0.05", "--test-speakers", "2"]) == 0
    out = capsys.readouterr().out
    assert "drascula: dropped 3 lines (no vowel 1, non-word 1, refused audio 1)" in out
    assert f"{human.TEST_SPLIT} speakers: " in out and "drascula 1.0+ds4-2" in out
    records = [json.loads(line) for line in (tmp_path / "cli" / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == len(LINES) - 2

    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert dataset.main(["human", "--out", str(tmp_path / "none"), "--cache", str(tmp_path / "empty")]) == 2
    assert "dpkg-deb is not on PATH" in capsys.readouterr().err
