"""The plan of clips (voices kept apart by split, settings stable as a build grows, clips of an
older render version kept) and the check that tells a finished wav from anything else."""

import numpy as np
import pytest
import soundfile as sf
from sample_text import synthetic_sentences

from tiny_audio.training import tts
from tiny_audio.training.clips import RENDER_VERSION, keep_rendered, plan_clips, render, wav_frames
from tiny_audio.training.corpus import Sentence, corpus_splits

RATE = 16_000


def test_plan_keeps_held_out_voices_out_of_training():
    corpus = [Sentence(t, t, "test") for t in synthetic_sentences(600)]
    train, held = corpus_splits(corpus, seed=0)
    records = plan_clips(train[:300], held[:20], seed=0, engines=tts.ENGINES)
    train_voices = {(r["engine"], r["voice"]) for r in records if r["split"] == "train"}
    reserved = {(e, v) for e, voices in tts.HELD_OUT_ONLY.items() for v in voices}
    assert not train_voices & reserved
    assert {e for e, _ in train_voices} == set(tts.ENGINES)
    held_records = [r for r in records if r["split"] == "held-out"]
    assert [r["engine"] == "piper" for r in held_records] == [i % 2 == 0 for i in range(20)]
    assert all((r["engine"], r["voice"]) in reserved for r in held_records[1::2])
    assert len({r["id"] for r in records}) == len(records)
    # A sentence keeps its voice and settings when the build grows.
    assert plan_clips(train[:10], [], seed=0, engines=tts.ENGINES) == [r for r in records if r["split"] == "train"][:10]


def test_wav_check_refuses_foreign_formats(tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(160, np.int16), RATE, subtype="PCM_16")
    sf.write(tmp_path / "rate.wav", np.zeros(160, np.int16), 22_050, subtype="PCM_16")
    sf.write(tmp_path / "stereo.wav", np.zeros((160, 2), np.int16), RATE, subtype="PCM_16")
    sf.write(tmp_path / "float.wav", np.zeros(160, np.float32), RATE, subtype="FLOAT")
    (tmp_path / "empty.wav").write_bytes(b"")
    assert wav_frames(tmp_path / "ok.wav") == 160
    for name in ("rate", "stereo", "float", "empty", "missing"):
        assert wav_frames(tmp_path / f"{name}.wav") is None


def test_a_growing_build_keeps_clips_of_the_older_render_version():
    corpus = [Sentence(t, t, "test") for t in synthetic_sentences(60)]
    train, held = corpus_splits(corpus, seed=0)
    planned = plan_clips(train[:20], held[:4], seed=0, engines=tts.ENGINES)
    assert {r["render_version"] for r in planned} == {RENDER_VERSION}
    older = []  # the same clips as the previous version planned them: no room, no band limit
    for record in planned[:10]:
        settings = {k: v for k, v in record["augment"].items() if k not in ("room", "band_limit")}
        older.append({**record, "id": record["id"].replace("-", "-v1-", 1), "augment": settings, "render_version": 1})
    moved = {**older[0], "seed": older[0]["seed"] + 1}  # other noise and settings: a different clip, not kept
    kept = keep_rendered(planned, [moved] + older[1:])
    assert kept[1:10] == older[1:] and kept[0] == planned[0] and kept[10:] == planned[10:]
    assert keep_rendered(planned, planned) == planned


def test_render_refuses_versions_it_does_not_know():
    record = plan_clips([Sentence("The old dog found a red kite.", "x", "test")], [], 0, ("espeak-ng",))[0]
    with pytest.raises(ValueError, match="render version 9"):
        render({**record, "render_version": 9})
