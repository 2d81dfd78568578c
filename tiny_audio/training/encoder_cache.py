"""Precompute the frozen encoder's outputs for a dataset, once, for projector training.

    python -m tiny_audio encoder-cache DATASET_DIR [--out DIR] [--shard-size 500]

Reads ``DATASET_DIR/manifest.jsonl`` (written by ``python -m tiny_audio dataset build``), runs
each clip through the nano encoder exactly as inference does (``SpeechEncoder.features`` and
``encode``, on the nano model's encoder window), and stores the
frames as float16 in safetensors shards (``shard-00000.safetensors``: clip id → [frames, dim]).
Each shard is written whole (temp file + rename); a rerun skips the shards already there, so a
killed run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional

import torch

from tiny_audio.loading.weights.cache import atomic_path
from tiny_audio.pipeline.audio import load_audio
from tiny_audio.pipeline.encoders import SpeechEncoder, encoder_from_model
from tiny_audio.training.clips import read_manifest


def shard_path(out: Path, index: int) -> Path:
    return out / f"shard-{index:05d}.safetensors"


@torch.inference_mode()
def encode_clip(encoder: SpeechEncoder, wav: Path) -> torch.Tensor:
    """[frames, dim] float16 on the CPU, from the encoder step inference runs (``AudioLLM.encode``)."""
    samples = load_audio(wav)
    frames = encoder.frames(samples)
    return frames[0].to(device="cpu", dtype=torch.float16).contiguous()


def build_cache(
    records: list[dict],
    dataset_dir: Path,
    out: Path,
    encoder: SpeechEncoder,
    shard_size: int = 500,
    progress: bool = True,
) -> list[Path]:
    """Write every missing shard; returns all shard paths in order."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    shards = [records[i : i + shard_size] for i in range(0, len(records), shard_size)]
    paths = []
    started, done = time.perf_counter(), 0
    for index, shard in enumerate(shards):
        path = shard_path(out, index)
        paths.append(path)
        if path.is_file() and _holds(path, [record["id"] for record in shard], encoder):
            continue
        tensors = {record["id"]: encode_clip(encoder, dataset_dir / record["path"]) for record in shard}
        with atomic_path(path) as partial:
            save_file(tensors, str(partial), metadata=_metadata(encoder))
        done += len(shard)
        if progress:
            rate = done / (time.perf_counter() - started)
            left = sum(len(s) for s in shards[index + 1 :]) / rate if rate else 0
            print(f"shard {index + 1}/{len(shards)}  {rate:.1f} clips/s  ~{left / 60:.0f} min left",
                  file=sys.stderr, flush=True)
    with atomic_path(out / "index.json") as partial:
        partial.write_text(json.dumps({"shards": [p.name for p in paths], "clips": len(records),
                                       "encoder": encoder.name}, indent=1))
    return paths


def _metadata(encoder: SpeechEncoder) -> dict[str, str]:
    return {"encoder": encoder.name, "window": encoder.window, "dtype": "float16"}


def _holds(path: Path, ids: list[str], encoder: SpeechEncoder) -> bool:
    """Whether a finished shard holds exactly these clips, from this encoder path (the manifest,
    --shard-size or the encoder window may have changed since it was written)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as shard:
        return sorted(shard.keys()) == sorted(ids) and shard.metadata() == _metadata(encoder)


def load_cache(out: Path) -> dict[str, torch.Tensor]:
    """Every cached clip: id → [frames, dim] float16."""
    from safetensors.torch import load_file

    index = json.loads((out / "index.json").read_text())
    frames: dict[str, torch.Tensor] = {}
    for name in index["shards"]:
        frames.update(load_file(str(out / name)))
    return frames


def nano_encoder() -> SpeechEncoder:
    from tiny_audio.loading.nano import NANO_WINDOW
    from tiny_audio.loading.weights.whisper import load_nano_whisper

    return encoder_from_model(load_nano_whisper().model, "whisper-tiny.en", window=NANO_WINDOW)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tiny_audio encoder-cache", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="a directory with manifest.jsonl")
    parser.add_argument("--out", type=Path, help="where the shards go (default DATASET/encoder-whisper-tiny.en)")
    parser.add_argument("--shard-size", type=int, default=500)
    args = parser.parse_args(argv)
    manifest = args.dataset / "manifest.jsonl"
    if not manifest.is_file():
        print(f"error: {manifest} not found (build it with python -m tiny_audio dataset build)", file=sys.stderr)
        return 2
    out = args.out or args.dataset / "encoder-whisper-tiny.en"
    paths = build_cache(read_manifest(manifest), args.dataset, out, nano_encoder(), args.shard_size)
    print(f"{len(paths)} shards in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
