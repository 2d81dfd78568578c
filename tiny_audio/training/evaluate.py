"""Word error rate of the nano model, side by side with Whisper tiny.en's own decoder.

    python -m tiny_audio eval data/nano                 # the synthetic held-out and the human test split
    python -m tiny_audio eval my_clips/                 # any folder of NAME.wav + NAME.txt pairs
    python -m tiny_audio eval data/nano --json wer.json --limit 50 --no-whisper
    python -m tiny_audio eval data/nano --split human-test --sample 300   # a fixed subset of one split

Both systems read the same clips, and both use the same Whisper tiny.en encoder weights, so
Whisper's decoder is the natural anchor for what the projector + LLM make of them. Both decode
the same way: as the app does nano (beam search with 4 beams once the projector is trained), or
as ``--beams`` says (1: greedy). Transcripts and references pass through Whisper's English text
normaliser (numbers, spellings, punctuation, case) before scoring; WER is the corpus figure
(edits over reference words) per group. A dataset is scored split by split, each in its own
table: the synthetic held-out split (per engine, the clips in voices never used in training, all
clips) and the real human voices of speakers never used in training (split "human-test": per
game, all clips), each with the bar it is held to.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

PIPER_BAR = 0.15  # nano WER on the Piper (neural-voice) part
WHISPER_RATIO_BAR = 1.5  # nano WER overall, relative to Whisper tiny.en's
HUMAN_RATIO_BAR = 2.0  # nano WER on the human test split, relative to Whisper tiny.en's
SPLITS = ("held-out", "human-test")  # what a dataset is scored on by default
HUMAN_SPLIT = "human-test"


@dataclass
class Clip:
    path: Path
    reference: str
    groups: list[str]  # the rows of the table this clip counts in
    split: str = ""


@dataclass
class Counts:
    clips: int = 0
    words: int = 0
    edits: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def wer(self, system: str) -> float:
        return self.edits[system] / self.words if self.words else float("nan")


def clips_from_dataset(dataset: Path, split: str = "held-out") -> list[Clip]:
    from tiny_audio.training.clips import read_manifest

    clips = []
    for record in read_manifest(dataset / "manifest.jsonl"):
        if record["split"] != split:
            continue
        if record.get("kind") == "human":
            groups = [record["origin"]]
        else:
            groups = [record["engine"]] + (["voices unseen in training"] if record.get("unseen_voice") else [])
        clips.append(Clip(dataset / record["path"], record["text"], groups, split))
    return clips


def sample_clips(clips: list[Clip], count: int) -> list[Clip]:
    """The ``count`` clips of smallest hash of their file name, in their own order: the same
    subset every time, spread over speakers and sources alike."""
    import hashlib

    ranked = sorted(clips, key=lambda c: hashlib.sha256(c.path.name.encode()).hexdigest())
    chosen = {c.path.name for c in ranked[:count]}
    return [c for c in clips if c.path.name in chosen]


def clips_from_folder(folder: Path) -> list[Clip]:
    clips = []
    for wav in sorted(folder.glob("*.wav")):
        reference = wav.with_suffix(".txt")
        if reference.is_file():
            clips.append(Clip(wav, reference.read_text().strip(), [folder.name]))
    return clips


def normaliser() -> Callable[[str], str]:
    """Whisper's English normaliser (without its British→American spelling table, which ships
    with Whisper's tokenizer files)."""
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    return EnglishTextNormalizer({})


def word_edits(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edits, reference words) after normalisation is already applied."""
    import jiwer

    if not reference.split():
        return len(hypothesis.split()), 0
    output = jiwer.process_words(reference, hypothesis or "")
    return output.substitutions + output.deletions + output.insertions, len(reference.split())


def score_clips(clips: list[Clip], systems: dict[str, Callable[[Path], str]], progress: bool = True) -> tuple[dict[str, Counts], list[dict]]:
    """Transcribe every clip with every system; counts per group (and "all"), and per-clip rows."""
    normalise = normaliser()
    table: dict[str, Counts] = defaultdict(Counts)
    rows = []
    started = time.perf_counter()
    for index, clip in enumerate(clips, 1):
        reference = normalise(clip.reference)
        row = {"path": str(clip.path), "reference": clip.reference, "groups": clip.groups}
        edits = {}
        for name, transcribe in systems.items():
            begun = time.perf_counter()
            hypothesis = transcribe(clip.path)
            row[f"{name}_s"] = round(time.perf_counter() - begun, 2)
            edits[name], words = word_edits(reference, normalise(hypothesis))
            row[name] = hypothesis
        for group in ["all"] + clip.groups:
            counts = table[group]
            counts.clips += 1
            counts.words += words
            for name, value in edits.items():
                counts.edits[name] += value
        rows.append(row)
        if progress and (index % 25 == 0 or index == len(clips)):
            rate = index / (time.perf_counter() - started)
            print(f"{index}/{len(clips)} clips  {rate:.1f} clips/s", file=sys.stderr, flush=True)
    return dict(table), rows


def format_table(table: dict[str, Counts], systems: list[str]) -> str:
    widths = [max(16, len(name) + 6) for name in systems]
    header = f"{'group':<28}{'clips':>6}{'words':>7}" + "".join(
        f"{name + ' WER':>{width}}" for name, width in zip(systems, widths))
    if len(systems) == 2:
        header += f"{'ratio':>8}"
    lines = [header, "-" * len(header)]
    order = ["all"] + sorted(g for g in table if g != "all")
    for group in order:
        counts = table[group]
        line = f"{group:<28}{counts.clips:>6}{counts.words:>7}"
        line += "".join(f"{100 * counts.wer(name):>{width - 1}.1f}%" for name, width in zip(systems, widths))
        if len(systems) == 2:
            base = counts.wer(systems[1])
            line += f"{counts.wer(systems[0]) / base:>8.2f}" if base else f"{'-':>8}"
        lines.append(line)
    return "\n".join(lines)


def summarize(table: dict[str, Counts], systems: list[str]) -> dict[str, dict]:
    """The table as plain data (what ``--json`` writes and the model card reads)."""
    return {group: {"clips": c.clips, "words": c.words, **{f"{name}_wer": c.wer(name) for name in systems}}
            for group, c in table.items()}


def bar_lines(summary: Optional[dict[str, dict]], human: Optional[dict[str, dict]] = None) -> list[str]:
    """The bars the model is trained for, checked against the summarised synthetic table and
    the human test split's."""
    lines = []
    if summary and "piper" in summary:
        wer = summary["piper"]["nano_wer"]
        lines.append(f"nano WER on Piper clips {100 * wer:.1f}% (bar ≤ {100 * PIPER_BAR:.0f}%): "
                     + ("met" if wer <= PIPER_BAR else "not met"))
    if summary and "whisper_wer" in summary["all"]:
        ratio = summary["all"]["nano_wer"] / max(summary["all"]["whisper_wer"], 1e-9)
        lines.append(f"nano / Whisper WER overall {ratio:.2f} (bar ≤ {WHISPER_RATIO_BAR}): "
                     + ("met" if ratio <= WHISPER_RATIO_BAR else "not met"))
    if human and "whisper_wer" in human["all"]:
        ratio = human["all"]["nano_wer"] / max(human["all"]["whisper_wer"], 1e-9)
        lines.append(f"nano / Whisper on human voices {ratio:.2f} (bar ≤ {HUMAN_RATIO_BAR:g}×): "
                     + ("met" if ratio <= HUMAN_RATIO_BAR else "not met"))
    return lines


def split_title(split: str, clips: list[Clip], total: int) -> str:
    what = {"held-out": "synthetic voices, sentences never trained on",
            HUMAN_SPLIT: "real human voices, speakers never trained on"}.get(split, "")
    subset = f" (a fixed subset: {len(clips)} of {total})" if len(clips) < total else ""
    return f"split {split}" + (f": {what}" if what else "") + subset


def systems_for(model, whisper: Optional[object], beams: int,
                whisper_trimmed: bool = False) -> dict[str, Callable[[Path], str]]:
    """``whisper_trimmed``: also Whisper's decoder on the frames nano's projector reads (the
    encoder run on the audio alone, not on the 30 s window)."""
    from tiny_audio.pipeline.audio import load_audio

    systems = {"nano": lambda path: model.transcribe(path, trace=False, beams=beams).text}
    if whisper is not None:
        from tiny_audio.loading.weights.whisper import transcribe_with_whisper_decoder

        systems["whisper"] = lambda path: transcribe_with_whisper_decoder(whisper, load_audio(path), beams)
        if whisper_trimmed:
            systems["whisper_trimmed"] = lambda path: transcribe_with_whisper_decoder(
                whisper, load_audio(path), beams, window="trimmed")
    return systems


def main(argv: Optional[list[str]] = None) -> int:
    from tiny_audio.arguments import positive_int

    parser = argparse.ArgumentParser(prog="python -m tiny_audio eval", description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a dataset directory (its held-out and human-test splits) "
                        "or a folder of .wav + .txt pairs")
    parser.add_argument("--split", action="append", help="score this split of a dataset (repeatable; "
                        f"default: those of {', '.join(SPLITS)} it has)")
    parser.add_argument("--limit", type=positive_int, help="only the first N clips of each split")
    parser.add_argument("--sample", type=positive_int, help="a fixed subset of N clips of each split, by a hash "
                        "of their names (spread over every speaker and engine)")
    parser.add_argument("--no-whisper", action="store_true", help="skip Whisper tiny.en's own decoder")
    parser.add_argument("--whisper-trimmed", action="store_true", help="also Whisper's decoder on the trimmed "
                        "window's frames, the ones nano's projector reads (what the trimmed window costs)")
    parser.add_argument("--json", type=Path, help="write every transcript and the tables here")
    parser.add_argument("--weights", type=Path, help="a training run's directory (default: the shipped nano weights)")
    parser.add_argument("--beams", type=positive_int, help="decoding, for both systems: 1 greedy, more beam search "
                        "(default: the app's for nano, 4 beams for a trained projector)")
    args = parser.parse_args(argv)

    from tiny_audio.loading.nano import NANO_PROJECTOR

    if args.weights and not (args.weights / NANO_PROJECTOR).is_file():
        print(f"error: {args.weights} has no {NANO_PROJECTOR} (a finished python -m tiny_audio train run)",
              file=sys.stderr)
        return 2
    dataset = (args.data / "manifest.jsonl").is_file()
    if dataset:
        splits = {split: clips_from_dataset(args.data, split) for split in args.split or SPLITS}
        splits = {split: clips for split, clips in splits.items() if clips or args.split}
    elif args.data.is_dir():
        splits = {args.data.name: clips_from_folder(args.data)}
    else:
        print(f"error: {args.data} is not a directory", file=sys.stderr)
        return 2
    totals = {split: len(clips) for split, clips in splits.items()}
    for split, clips in splits.items():
        clips = sample_clips(clips, args.sample) if args.sample else clips
        splits[split] = clips[: args.limit] if args.limit else clips
    if not splits or not all(splits.values()):
        empty = ", ".join(s for s, c in splits.items() if not c) or "any split"
        print(f"error: no clips in {args.data} ({empty}; a dataset's manifest.jsonl, or NAME.wav + NAME.txt pairs)",
              file=sys.stderr)
        return 2

    from tiny_audio.loading.nano import ASSETS, load_nano
    from tiny_audio.pipeline.decoding import decoding_text

    model = load_nano(weights=args.weights or ASSETS)
    whisper = None
    if not args.no_whisper:
        from tiny_audio.loading.weights.whisper import load_nano_whisper

        whisper = load_nano_whisper()
    beams = args.beams or model.beams
    systems = systems_for(model, whisper, beams, args.whisper_trimmed)
    print(f"{model.name}; {'trained' if model.projector_trained else 'UNTRAINED'} projector; "
          f"{decoding_text(beams)}; " + ", ".join(f"{len(c)} {s} clips" for s, c in splits.items()), file=sys.stderr)
    tables, rows, seconds = {}, [], {}
    for split, clips in splits.items():
        started = time.perf_counter()
        table, split_rows = score_clips(clips, systems)
        seconds[split] = round(time.perf_counter() - started, 1)
        print("\n" + (split_title(split, clips, totals[split]) if dataset else f"{args.data}: {len(clips)} clips"))
        print(format_table(table, list(systems)))
        tables[split] = summarize(table, list(systems))
        rows += [{"split": split, **row} for row in split_rows]
    human = tables.get(HUMAN_SPLIT)
    synthetic = next((t for s, t in tables.items() if s != HUMAN_SPLIT), None)
    print()
    for line in bar_lines(synthetic, human):
        print(line)
    if args.json:
        report = {"model": model.name, "beams": beams, "tables": tables, "seconds": seconds, "clips": rows}
        if synthetic is not None:
            report["table"] = synthetic  # the table the app and the model card quote
        if human is not None:
            report["human_table"] = human
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
