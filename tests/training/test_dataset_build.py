"""A tiny real build (Piper + espeak-ng, two processes) that is regenerated and resumed, and the
command line."""

import shutil

import numpy as np
import pytest
import soundfile as sf
from sample_text import write_fortunes

from tiny_audio.training import dataset, tts
from tiny_audio.training.clips import read_manifest, wav_frames

RATE = 16_000


@pytest.fixture(scope="module")
def fortunes(tmp_path_factory):
    return write_fortunes(tmp_path_factory.mktemp("fortunes"), 150)


@pytest.fixture(scope="module")
def tiny_build(fortunes, tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    records, stats = dataset.build(
        out, sentences=6, held_out=2, seed=5, jobs=2, engines=("piper", "espeak-ng"), fortunes=fortunes, progress=False,
        wordnet=None,
    )
    return out, records, stats


def test_tiny_build_writes_16k_wavs_that_match_the_manifest(tiny_build):
    out, records, stats = tiny_build
    assert stats["failed"] == {} and stats["rendered"] == 8
    assert read_manifest(out / "manifest.jsonl") == records
    assert [r["split"] for r in records] == ["train"] * 6 + ["held-out"] * 2
    assert [r["engine"] for r in records[6:]] == ["piper", "espeak-ng"]
    assert records[7]["voice"] in tts.HELD_OUT_ONLY["espeak-ng"] and records[7]["unseen_voice"]
    assert all(r["voice"] in tts.TRAIN_VOICES[r["engine"]] for r in records[:6])
    assert sorted(p.name for p in (out / "clips").iterdir()) == sorted(f"{r['id']}.wav" for r in records)
    for record in records:
        info = sf.info(out / record["path"])
        assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
        assert info.frames == record["samples"] and record["duration"] == pytest.approx(info.frames / RATE, abs=1e-4)
        assert 0.5 < record["duration"] < 10
        samples, _ = sf.read(out / record["path"])
        assert 0.01 < np.abs(samples).max() < 1.0
        assert record["text"] == record["source"] and record["seed"] > 0
        assert {"synth", "augment", "engine", "voice", "id", "split", "path"} <= record.keys()


def test_manifest_regenerates_identical_clips(tiny_build, tmp_path):
    out, records, _ = tiny_build
    again, stats = dataset.regenerate(out / "manifest.jsonl", tmp_path, jobs=1, progress=False)
    assert stats["failed"] == {} and len(again) == len(records)
    # Piper included: its noise is seeded, so every clip is bit-identical.
    assert dataset.compare_clips(out, tmp_path, records) == {}


def test_a_killed_build_resumes_without_trusting_partial_files(tiny_build, tmp_path, fortunes):
    out, records, _ = tiny_build
    shutil.copytree(out, tmp_path / "copy")
    copy = tmp_path / "copy"
    clips = copy / "clips"
    truncated = clips / f"{records[0]['id']}.wav"
    truncated.write_bytes(truncated.read_bytes()[:2000])  # a header that promises more than is there
    (clips / f"{records[1]['id']}.wav").unlink()
    leftover = clips / f"{records[1]['id']}.wav.k1lled42.tmp"  # what atomic_path leaves when killed
    leftover.write_bytes(b"RIFF")
    assert wav_frames(truncated) is None and wav_frames(clips / f"{records[2]['id']}.wav") == records[2]["samples"]

    again, stats = dataset.build(
        copy, sentences=6, held_out=2, seed=5, jobs=1, engines=("piper", "espeak-ng"), fortunes=fortunes, progress=False,
        wordnet=None,
    )
    assert (stats["rendered"], stats["reused"]) == (2, 6)
    assert not leftover.exists() and again == records
    assert dataset.compare_clips(out, copy, records) == {}


def test_cli_reports_the_sentences(fortunes, capsys):
    assert dataset.main(["sentences", "--fortunes", str(fortunes), "--wordnet", "/nonexistent"]) == 0
    assert "150 distinct sentences" in capsys.readouterr().out
    assert dataset.main(["build", "--out", "/nonexistent", "--engines", "nothing"]) == 2
