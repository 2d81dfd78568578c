"""Clips: which sentence is spoken by which voice with which settings, and how each is rendered.

    records = plan_clips(train, held_out, seed, engines)  # one manifest record per sentence
    stats = render_all(records, out, jobs)                 # out/clips/<id>.wav, missing ones only

A record holds everything its clip depends on (engine, voice, synthesis and augmentation
settings, seed), so ``render(record)`` gives the same samples in a build or a rerun. Records of
real human speech (``"kind": "human"``, ``tiny_audio.training.human.records``) are rendered from
the game package they name. Wavs are 16 kHz mono PCM16, each written under a temporary name and
renamed: a killed build leaves no half file that a rerun would take as done.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from tiny_audio.loading.weights.cache import atomic_path
from tiny_audio.pipeline.audio import SAMPLE_RATE, resample
from tiny_audio.pipeline.encoders import WHISPER_WINDOW_SECONDS
from tiny_audio.training import tts
from tiny_audio.training.augment import REFERENCE_PEAK, augment, sample_augmentation, trim_silence
from tiny_audio.training.corpus import Sentence, sentence_key

# Bump when rendering changes: clip ids include it, so old wavs are never taken for new ones.
# Version 2 added real rooms and band-limiting to the augmentation; version 1 records (made
# before) render as they always did and are kept when a build grows (``keep_rendered``).
RENDER_VERSION = 2
RENDER_VERSIONS = (1, 2)
# Share of training clips per engine (among the engines a build uses).
TRAIN_ENGINE_WEIGHTS = {"piper": 0.45, "espeak-ng": 0.3, "flite": 0.2, "festival": 0.05}
HELD_OUT_ENGINE_WEIGHTS = {"espeak-ng": 0.5, "flite": 0.25, "festival": 0.25}


def clip_seed(seed: int, split: str, text: str) -> int:
    digest = hashlib.sha256(f"{seed}|{split}|{sentence_key(text)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: fits any JSON reader's integers


def _pick(weights: dict[str, float], engines: Iterable[str], rng: np.random.Generator) -> str:
    names = [e for e in weights if e in engines]
    p = np.array([weights[e] for e in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def plan_clips(train: list[Sentence], held_out: list[Sentence], seed: int, engines: Iterable[str]) -> list[dict]:
    """One manifest record (without path/duration) per sentence. Every choice comes from a
    generator seeded by (build seed, split, sentence), so a sentence keeps its voice and settings
    when the build grows."""
    engines = tuple(engines)
    unseen_engines = [e for e in HELD_OUT_ENGINE_WEIGHTS if e in engines]
    records = []
    for split, sentences in (("train", train), ("held-out", held_out)):
        for index, sentence in enumerate(sentences):
            clip = clip_seed(seed, split, sentence.text)
            rng = np.random.default_rng(clip)
            if split == "train":
                engine, unseen = _pick(TRAIN_ENGINE_WEIGHTS, engines, rng), False
            else:  # alternate: Piper's training voice on unseen sentences / a voice training never hears
                unseen = bool(index % 2 or "piper" not in engines) and bool(unseen_engines)
                engine = _pick(HELD_OUT_ENGINE_WEIGHTS, unseen_engines, rng) if unseen else "piper"
            voices = (tts.HELD_OUT_ONLY if unseen else tts.TRAIN_VOICES)[engine]
            voice = voices[int(rng.integers(len(voices)))]
            record = {
                "split": split,
                "text": sentence.text,
                "source": sentence.source,
                "origin": sentence.origin,
                "engine": engine,
                "voice": voice,
                "unseen_voice": unseen,
                "synth": tts.sample_settings(engine, voice, rng),
                "augment": sample_augmentation(rng),
                "seed": clip,
                "render_version": RENDER_VERSION,
            }
            digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:8]
            prefix = "train" if split == "train" else "heldout"
            records.append({"id": f"{prefix}-{index:05d}-{digest}", **record})
    return records


def keep_rendered(planned: list[dict], existing: Iterable[dict]) -> list[dict]:
    """``planned`` with each record replaced by an ``existing`` one of an older render version
    that is the same clip in all but its augmentation (same split, sentence, engine, voice,
    synthesis, seed): a growing build keeps the clips it has instead of re-drawing them."""
    def key(record: dict) -> str:
        same = {k: v for k, v in record.items() if k not in _PER_VERSION}
        return json.dumps(same, sort_keys=True)

    older = {key(r): r for r in existing if r.get("render_version", 1) != RENDER_VERSION and "kind" not in r}
    return [older.get(key(record), record) for record in planned]


_PER_VERSION = ("id", "augment", "render_version", "path", "samples", "duration")


def render(record: dict, package_cache: Path | None = None) -> np.ndarray:
    """A manifest record → its 16 kHz int16 samples. Depends on the record alone (and, for a
    human clip, on the game package it names, found in ``package_cache``)."""
    if record.get("kind") == "human":
        from tiny_audio.training.human.records import render_human

        return render_human(record, package_cache)
    if record.get("render_version", RENDER_VERSION) not in RENDER_VERSIONS:
        raise ValueError(
            f"{record['id']} was made by render version {record['render_version']}; this one renders {RENDER_VERSIONS}"
        )
    raw, rate = tts.synthesize(record["engine"], record["voice"], record["text"], record["synth"])
    samples = trim_silence(resample(raw, rate, SAMPLE_RATE))
    peak = float(np.abs(samples).max(initial=0.0))
    if peak < 1e-4:
        raise RuntimeError(f"{record['engine']} produced silence for {record['text']!r}")
    samples = augment(samples * (REFERENCE_PEAK / peak), record["augment"], record["seed"])
    if samples.size > WHISPER_WINDOW_SECONDS * SAMPLE_RATE:
        raise RuntimeError(
            f"{samples.size / SAMPLE_RATE:.1f} s is longer than the encoder's {WHISPER_WINDOW_SECONDS:g} s window"
        )
    return np.round(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write under a temporary name, then rename: a reader sees the whole file or none."""
    import soundfile as sf

    with atomic_path(path) as temp:
        sf.write(temp, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")


def wav_frames(path: Path) -> int | None:
    """Sample count of a finished clip (16 kHz mono PCM16 WAV whose data chunk is as long as its
    header says), or None for anything else — missing, truncated, foreign or empty."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset, fmt = 12, None
    while offset + 8 <= len(data):
        kind, size = data[offset : offset + 4], int.from_bytes(data[offset + 4 : offset + 8], "little")
        body = data[offset + 8 : offset + 8 + size]
        if kind == b"fmt ":
            fmt = body
        elif kind == b"data":
            if len(body) != size or size == 0 or size % 2 or fmt is None:
                return None
            tag, channels, rate = (int.from_bytes(fmt[a:b], "little") for a, b in ((0, 2), (2, 4), (4, 8)))
            bits = int.from_bytes(fmt[14:16], "little")
            if tag != 1 or channels != 1 or rate != SAMPLE_RATE or bits != 16:
                return None
            return size // 2
        offset += 8 + size + (size & 1)  # chunks are padded to even sizes
    return None


def _render_job(record: dict, clips: str, package_cache: str | None) -> tuple[str, str, float, str | None]:
    """Worker: render one clip into ``clips``; returns (id, engine or human source, seconds, error)."""
    start = time.perf_counter()
    try:
        write_wav(Path(clips) / f"{record['id']}.wav", render(record, Path(package_cache) if package_cache else None))
        error = None
    except Exception as failure:  # reported per clip; one bad sentence must not stop a build
        error = f"{type(failure).__name__}: {failure}"
    return record["id"], record.get("engine") or record["origin"], time.perf_counter() - start, error


class _Progress:
    """'done/total clips, clips/s, ETA' on one stderr line, at most twice a second."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.done, self.enabled = total, 0, enabled
        self.start = self.shown = time.perf_counter()

    def step(self) -> None:
        self.done += 1
        now = time.perf_counter()
        if self.enabled and (now - self.shown > 0.5 or self.done == self.total):
            self.shown = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate else 0.0
            print(
                f"\r{self.done}/{self.total} clips  {rate:.2f} clips/s  ETA {_clock(eta)}   ",
                end="\n" if self.done == self.total else "",
                file=sys.stderr,
                flush=True,
            )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


def render_all(
    records: list[dict], out: Path, jobs: int | None = None, progress: bool = True, package_cache: Path | None = None
) -> dict:
    """Render every record whose wav is not already finished in ``out/clips``, ``jobs`` processes
    at a time (human clips from the game packages in ``package_cache``). Fills in path, samples
    and duration; returns timing statistics and failures."""
    import multiprocessing

    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    for stale in clips.glob("*.wav.*.tmp"):  # atomic_path's temporary files, left by a killed run
        stale.unlink(missing_ok=True)
    todo = [r for r in records if wav_frames(clips / f"{r['id']}.wav") is None]
    stats: dict = {"rendered": len(todo), "reused": len(records) - len(todo), "failed": {}, "engines": {}}
    meter = _Progress(len(todo), enabled=progress and bool(todo))
    start = time.perf_counter()
    if todo:
        # spawn: workers start clean (no model, thread pool or lock inherited from the parent).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs or os.cpu_count(), mp_context=context) as pool:
            cache = str(package_cache) if package_cache else None
            futures = [pool.submit(_render_job, r, str(clips), cache) for r in todo]
            for future in as_completed(futures):
                clip_id, engine, seconds, error = future.result()
                if error:
                    stats["failed"][clip_id] = error
                timing = stats["engines"].setdefault(engine, {"clips": 0, "seconds": 0.0})
                timing["clips"] += 1
                timing["seconds"] += seconds
                meter.step()
    stats["wall_s"] = time.perf_counter() - start
    for record in records:
        frames = wav_frames(clips / f"{record['id']}.wav")
        record["path"] = f"clips/{record['id']}.wav"
        record["samples"] = frames
        record["duration"] = round(frames / SAMPLE_RATE, 4) if frames else None
    return stats


def write_manifest(path: Path, records: Iterable[dict]) -> None:
    """JSON lines, written to a temporary file and renamed into place."""
    with atomic_path(path) as temp, open(temp, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def read_manifest(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
