"""Encoder outputs cached for training: same frames as the pipeline, resumable, whole shards only."""

import json

import soundfile as sf
import torch
from tiny_models import speechlike, tiny_whisper

from tiny_audio.training.encoder_cache import build_cache, encode_clip, load_cache, main, shard_path
from tiny_audio.pipeline.encoders import encoder_from_model


def tiny_dataset(folder, lengths=(1.0, 1.3, 0.7, 2.0, 1.1)):
    (folder / "clips").mkdir(parents=True)
    records = []
    for i, seconds in enumerate(lengths):
        path = f"clips/c{i}.wav"
        sf.write(folder / path, speechlike(seconds, seed=i), 16_000, subtype="PCM_16")
        records.append({"id": f"c{i}", "path": path, "text": "words"})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def test_cache_holds_the_pipelines_frames_and_resumes(tmp_path):
    records = tiny_dataset(tmp_path / "data")
    encoder = encoder_from_model(tiny_whisper())
    out = tmp_path / "cache"
    paths = build_cache(records, tmp_path / "data", out, encoder, shard_size=2, progress=False)
    assert [p.name for p in paths] == ["shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors"]
    frames = load_cache(out)
    assert sorted(frames) == [r["id"] for r in records]
    for record in records:
        samples = sf.info(tmp_path / "data" / record["path"]).frames
        assert frames[record["id"]].shape == (-(-samples // 320), 32)
        assert frames[record["id"]].dtype == torch.float16
    direct = encode_clip(encoder, tmp_path / "data" / "clips" / "c3.wav")
    assert torch.equal(frames["c3"], direct)

    # A rerun recomputes only the missing shard; a stray temp file is not a shard.
    kept = shard_path(out, 0).stat().st_mtime_ns
    shard_path(out, 1).unlink()
    (out / "shard-00001.safetensors.abc.tmp").write_bytes(b"half a shard")
    build_cache(records, tmp_path / "data", out, encoder, shard_size=2, progress=False)
    assert shard_path(out, 0).stat().st_mtime_ns == kept
    assert torch.equal(load_cache(out)["c2"], frames["c2"])

    # Another shard size puts other clips in each shard: those shards are rebuilt, not trusted.
    build_cache(records, tmp_path / "data", out, encoder, shard_size=3, progress=False)
    regrouped = load_cache(out)
    assert sorted(regrouped) == sorted(frames) and torch.equal(regrouped["c4"], frames["c4"])


def test_cli_without_a_manifest_is_one_clear_line(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "manifest.jsonl not found" in capsys.readouterr().err
