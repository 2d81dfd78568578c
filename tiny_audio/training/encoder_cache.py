"""Precompute the frozen encoder's outputs for a dataset, once, for projector training.

    python -m tiny_audio encoder-cache DATASET_DIR [--out DIR] [--shard-size 500]

Reads ``DATASET_DIR/manifest.jsonl`` (written by ``python -m tiny_audio dataset build``), runs
each clip through the nano encoder exactly as inference does (``SpeechEncoder.features`` and
``encode``, on the nano model's encoder window), and stores the
frames as float16 in safetensors shards (``shard-00000.safetensors``: clip id → [frames, dim]).
Each shard is written whole (temp file + rename); a rerun skips the shards already there, so a
killed run resumes where it stopped. A manifest that grew (a synthetic build adds its clips among
the human ones) regroups the clips: the shards that no longer hold their clips are set aside in
``previous/`` and their frames reused, so only the new clips are encoded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Optional

import torch

from tiny_audio.loading.weights.cache import atomic_path
from tiny_audio.pipeline.audio import load_audio
from tiny_audio.pipeline.encoders import SpeechEncoder, encoder_from_model
from tiny_audio.training.clips import read_manifest


PREVIOUS = "previous"  # shards being regrouped, whose frames are reused


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
    """Write every missing shard (from frames already computed where a clip has them); returns
    all shard paths in order."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    shards = [records[i : i + shard_size] for i in range(0, len(records), shard_size)]
    paths = [shard_path(out, index) for index in range(len(shards))]
    stale = [index for index, path in enumerate(paths)
             if not (path.is_file() and _holds(path, [record["id"] for record in shards[index]], encoder))]
    previous = _set_aside([paths[index] for index in stale] + _extra_shards(out, len(shards)), out / PREVIOUS)
    reusable = _frames_in(previous, encoder)
    started, done = time.perf_counter(), 0
    for index in stale:
        shard = shards[index]
        tensors = {record["id"]: reusable[record["id"]].get_tensor(record["id"]) if record["id"] in reusable
                   else encode_clip(encoder, dataset_dir / record["path"]) for record in shard}
        with atomic_path(paths[index]) as partial:
            save_file(tensors, str(partial), metadata=_metadata(encoder))
        done += len(shard)
        if progress:
            rate = done / (time.perf_counter() - started)
            left = sum(len(shards[i]) for i in stale if i > index) / rate if rate else 0
            print(f"shard {index + 1}/{len(shards)}  {rate:.1f} clips/s  ~{left / 60:.0f} min left",
                  file=sys.stderr, flush=True)
    if previous:
        reusable.clear()
        shutil.rmtree(out / PREVIOUS)  # every frame it held is in the new shards now
    with atomic_path(out / "index.json") as partial:
        partial.write_text(json.dumps({"shards": [p.name for p in paths], "clips": len(records),
                                       "encoder": encoder.name}, indent=1))
    return paths


def _extra_shards(out: Path, count: int) -> list[Path]:
    """Shards past the last one a smaller regrouping needs."""
    return [path for path in out.glob("shard-*.safetensors") if int(path.stem.split("-")[1]) >= count]


def _set_aside(paths: list[Path], folder: Path) -> list[Path]:
    """Move these shards into ``folder`` (they are about to be rewritten, and their frames may
    belong elsewhere now); returns everything the folder holds, from this run or a killed one."""
    moving = [path for path in paths if path.is_file()]
    if moving:
        folder.mkdir(exist_ok=True)
    taken = len(list(folder.glob("*.safetensors"))) if folder.is_dir() else 0
    for number, path in enumerate(moving, start=taken):
        path.rename(folder / f"{number:05d}-{path.name}")
    return sorted(folder.glob("*.safetensors")) if folder.is_dir() else []


def _frames_in(paths: list[Path], encoder: SpeechEncoder) -> dict:
    """Clip id → the open shard that holds its frames, among those this encoder path wrote."""
    from safetensors import safe_open

    found = {}
    for path in paths:
        shard = safe_open(str(path), framework="pt")
        if shard.metadata() == _metadata(encoder):
            found.update(dict.fromkeys(shard.keys(), shard))
    return found


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
