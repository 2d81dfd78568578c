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


def cached_tiny_dataset(tmp_path):
    """A tiny data set and its cache in shards of two: (records, encoder, cache folder, frames)."""
    records = tiny_dataset(tmp_path / "data")
    encoder = encoder_from_model(tiny_whisper())
    out = tmp_path / "cache"
    build_cache(records, tmp_path / "data", out, encoder, shard_size=2, progress=False)
    return records, encoder, out, load_cache(out)


def spy_on_encoding(monkeypatch):
    """The names of the clips the encoder runs on from now on, and the real ``encode_clip``."""
    import tiny_audio.training.encoder_cache as cache

    encoded, real = [], cache.encode_clip
    monkeypatch.setattr(cache, "encode_clip", lambda enc, wav: encoded.append(wav.name) or real(enc, wav))
    return encoded, real


def test_a_grown_manifest_encodes_only_its_new_clips(tmp_path, monkeypatch):
    records, encoder, out, before = cached_tiny_dataset(tmp_path)

    # A synthetic build puts its clips before the human ones: every shard holds other clips now.
    path = "clips/new.wav"
    sf.write(tmp_path / "data" / path, speechlike(0.9, seed=9), 16_000, subtype="PCM_16")
    grown = [{"id": "new", "path": path, "text": "words"}] + records
    encoded, real = spy_on_encoding(monkeypatch)
    paths = build_cache(grown, tmp_path / "data", out, encoder, shard_size=2, progress=False)
    assert encoded == ["new.wav"]
    after = load_cache(out)
    assert sorted(after) == sorted(before) + ["new"]
    assert all(torch.equal(after[key], before[key]) for key in before)
    assert torch.equal(after["new"], real(encoder, tmp_path / "data" / path))
    assert sorted(p.name for p in out.iterdir()) == sorted([p.name for p in paths] + ["index.json"])


def test_a_regrouping_killed_halfway_still_reuses_the_set_aside_frames(tmp_path, monkeypatch):
    import tiny_audio.training.encoder_cache as cache

    records, encoder, out, before = cached_tiny_dataset(tmp_path)
    reordered = records[::-1]
    real_save = __import__("safetensors.torch", fromlist=["save_file"]).save_file
    calls = []

    def dies_on_the_second(tensors, path, metadata=None):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr("safetensors.torch.save_file", dies_on_the_second)
    try:
        build_cache(reordered, tmp_path / "data", out, encoder, shard_size=2, progress=False)
    except KeyboardInterrupt:
        pass
    assert (out / cache.PREVIOUS).is_dir()
    monkeypatch.setattr("safetensors.torch.save_file", real_save)
    encoded, real = spy_on_encoding(monkeypatch)
    build_cache(reordered, tmp_path / "data", out, encoder, shard_size=2, progress=False)
    assert encoded == [] and not (out / cache.PREVIOUS).exists()
    after = load_cache(out)
    assert sorted(after) == sorted(before) and all(torch.equal(after[k], before[k]) for k in before)
