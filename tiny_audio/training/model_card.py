"""Ship a training run as the nano model: weights, evaluation and a model card into ``assets/``.

    python -m tiny_audio eval data/nano --json runs/nano/wer.json
    python -m tiny_audio model-card runs/nano --dataset data/nano --eval runs/nano/wer.json

Copies ``nano_projector.safetensors`` and the LoRA adapter from the run, writes
``nano_eval.json`` (the WER table the app quotes), ``nano_loss.png`` (the loss curves) and
``NANO_MODEL_CARD.md``. Every measured figure in the card (data, steps, time, losses, WER) is read
from the run's own files (``args.json``, ``loss.jsonl``), the dataset's manifest and the
evaluation; the fixed architecture and optimiser settings are stated in the text.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tiny_audio.pipeline.history import HISTORY, NANO_HISTORY, loss_curves, read_lines
from tiny_audio.loading.weights.cache import atomic_path

WEIGHTS = ("nano_projector.safetensors", "nano_lora.safetensors", "nano_lora.json")


@dataclass
class TrainingRun:
    """One ``python -m tiny_audio train`` run: its arguments, machine, data counts and loss log."""

    name: str
    args: dict
    machine: dict
    data: dict
    entries: list[dict]
    adapter: Optional[dict] = None  # the run's nano_lora.json

    @property
    def lora(self) -> str:
        if not self.args.get("lora_rank"):
            return ""
        if self.adapter:
            return lora_text(self.adapter)
        # A folder whose last export was of another stage: the arguments say what was wrapped.
        from tiny_audio.pipeline.lora import TARGET_SETS

        return lora_text({"rank": self.args["lora_rank"], "targets": TARGET_SETS[self.args.get("lora_targets", "qv")]})

    @property
    def init(self) -> Optional[Path]:
        value = self.args.get("init")
        return Path(value) if value else None

    @property
    def keep(self) -> str:
        return self.args.get("keep", "last")  # runs from before --keep ended on their last step

    @property
    def masked(self) -> bool:
        return bool(self.args.get("mask"))


def run_chain(run_dir: Path) -> list[TrainingRun]:
    """The run and the runs it went on from (``--init``), oldest first, back to the first one
    that is not a run folder (the shipped weights a run may start from)."""
    from tiny_audio.training.train import LossLog

    chain: list[TrainingRun] = []
    seen: set[Path] = set()
    path: Optional[Path] = run_dir
    while path is not None:
        if path.resolve() in seen:
            raise ValueError(f"{path}: its --init chain comes back to itself")
        seen.add(path.resolve())
        if chain and not (path / "args.json").is_file():
            break  # warm from shipped weights (assets/): their own card tells how they were trained
        info = json.loads((path / "args.json").read_text())
        adapter = json.loads((path / "nano_lora.json").read_text()) if (path / "nano_lora.json").is_file() else None
        run = TrainingRun(path.name, info["args"], info["machine"], info.get("data", {}), LossLog(path / "loss.jsonl").read(), adapter)
        chain.insert(0, run)
        path = run.init
    return chain


def stage_summary(entries: list[dict], stage: str, keep: str = "last") -> dict:
    """Steps, wall time (summed over resumed segments), first and last losses of one stage, and
    the validated step the run kept (``--keep``: the lowest validation loss, or the last)."""
    steps = [e for e in entries if e["stage"] == stage and "loss" in e]
    if not steps:
        return {}
    seconds, segment = 0.0, 0.0
    for entry in steps:
        if entry["seconds"] < segment:  # a resumed run restarts its clock
            seconds += segment
        segment = entry["seconds"]
    seconds += segment
    tail = [e["loss"] for e in steps[-50:]]
    vals = [e for e in entries if e["stage"] == stage and "val_loss" in e]
    kept = (min(vals, key=lambda e: (e["val_loss"], e["step"])) if keep == "best" else vals[-1]) if vals else {}
    return {"steps": steps[-1]["step"], "minutes": round(seconds / 60, 1),
            "first_loss": steps[0]["loss"], "last_loss_mean50": round(sum(tail) / len(tail), 3),
            "kept_step": kept.get("step", steps[-1]["step"]), "kept_val_loss": kept.get("val_loss")}


def plot_losses(chain: list[TrainingRun], path: Path) -> None:
    """Training loss (moving average over 25 steps) and validation loss, one panel per stage; a
    run that went on from another is drawn from the step it started from, in its own colour."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    titles = {"align": "stage 1: CTC onto the LLM's embeddings", "lm": "stage 2: LLM cross-entropy (LoRA)"}
    stages = [s for s in ("align", "lm") if any(e["stage"] == s for run in chain for e in run.entries)]
    figure = make_subplots(rows=1, cols=len(stages), subplot_titles=[titles[s] for s in stages])
    colours = [("#1f77b4", "#d62728"), ("#2ca02c", "#9467bd"), ("#ff7f0e", "#8c564b"), ("#17becf", "#e377c2")]
    for column, stage in enumerate(stages, 1):
        offset = 0
        for index, run in enumerate(chain):
            steps = [e for e in run.entries if e["stage"] == stage and "loss" in e]
            if not steps:
                continue
            train_colour, val_colour = colours[index % len(colours)]
            label = f"{run.name} {stage}" if len(chain) > 1 else stage
            x = [offset + e["step"] for e in steps]
            losses = [e["loss"] for e in steps]
            smooth = [sum(losses[max(0, i - 24) : i + 1]) / len(losses[max(0, i - 24) : i + 1])
                      for i in range(len(losses))]
            figure.add_trace(go.Scatter(x=x, y=smooth, name=f"{label} train", line={"color": train_colour}), 1, column)
            vals = [e for e in run.entries if e["stage"] == stage and "val_loss" in e]
            figure.add_trace(go.Scatter(x=[offset + e["step"] for e in vals], y=[e["val_loss"] for e in vals],
                                        mode="lines+markers", name=f"{label} validation", line={"color": val_colour}),
                             1, column)
            offset += stage_summary(run.entries, stage, run.keep)["kept_step"]
        figure.update_xaxes(title_text="step", row=1, col=column)
        figure.update_yaxes(title_text="loss", type="log", row=1, col=column)
    figure.update_layout(width=1000, height=400, template="plotly_white", margin={"t": 40, "b": 40, "l": 60, "r": 20},
                         legend={"orientation": "h", "y": -0.2})
    with atomic_path(path) as partial:
        figure.write_image(str(partial), format="png")


def data_summary(dataset: Path) -> dict:
    from tiny_audio.training.clips import read_manifest

    records = read_manifest(dataset / "manifest.jsonl")
    synthetic = [r for r in records if r.get("kind") != "human"]
    human = [r for r in records if r.get("kind") == "human"]
    train = [r for r in synthetic if r["split"] == "train"]
    held = [r for r in synthetic if r["split"] != "train"]
    human_train = [r for r in human if r["split"] == "train"]
    human_test = [r for r in human if r["split"] != "train"]
    return {"train_clips": len(train), "held_out_clips": len(held),
            "train_hours": round(sum(r["duration"] for r in train) / 3600, 2),
            "train_engines": dict(Counter(r["engine"] for r in train).most_common()),
            "train_sources": dict(Counter(r["origin"].split("/")[0] for r in train).most_common()),
            "held_out_engines": dict(Counter(r["engine"] for r in held).most_common()),
            "held_out_unseen_voice": sum(1 for r in held if r.get("unseen_voice")),
            "human_train_clips": len(human_train),
            "human_train_hours": round(sum(r["duration"] for r in human_train) / 3600, 2),
            "human_train_speakers": len({r["speaker"] for r in human_train}),
            "human_sources": dict(Counter(r["origin"] for r in human).most_common()),
            "human_test_clips": len(human_test),
            "human_test_minutes": round(sum(r["duration"] for r in human_test) / 60, 1),
            "human_test_speakers": sorted({r["speaker"] for r in human_test})}


def wer_table(table: dict) -> str:
    systems = [key[: -len("_wer")] for key in table["all"] if key.endswith("_wer")]
    lines = ["| clips | count | words | " + " | ".join(f"{s} WER" for s in systems) + " |",
             "|---|---:|---:|" + "---:|" * len(systems)]
    for group in ["all"] + sorted(g for g in table if g != "all"):
        row = table[group]
        lines.append(f"| {group} | {row['clips']} | {row['words']} | "
                     + " | ".join(f"{100 * row[f'{s}_wer']:.1f}%" for s in systems) + " |")
    return "\n".join(lines)


def bar_text(table: dict, human: Optional[dict] = None) -> str:
    """The bars the model was trained for, against this evaluation."""
    from tiny_audio.training.evaluate import bar_lines

    return "\n".join(f"- {line}" for line in bar_lines(table, human))


# What each human speech source of the data set is called in the card (its Debian package's licence).
HUMAN_SOURCE_PACKAGES = {"drascula": "drascula", "queen": "flight-of-the-amazon-queen"}


def human_text(data: dict) -> str:
    """The real human speech of the data set: what is trained on, what is held out, licences."""
    if not data.get("human_sources"):
        return ("No human speech in training: real voices, accents and rooms are untested unless the "
                "evaluation below has a human test table.")
    from tiny_audio.training.human.licences import LICENCES

    parts = []
    for source, clips in data["human_sources"].items():
        facts = LICENCES[HUMAN_SOURCE_PACKAGES[source]]
        parts.append(f"*{facts['work']}* (Debian package `{facts['package']}` {facts['version']}, © "
                     f"{facts['copyright']}, {facts['licence']}: {facts['terms']}), {clips} clips")
    sources = "; ".join(parts)
    return (f"Real human speech: the voice actors of two freeware games, read from their Debian packages at build "
            f"time and never shipped: {sources}. Each line's subtitle is made a transcript (sentence case, numbers "
            f"written out; calls, laughs and noises dropped). Training: {data['human_train_clips']} clips "
            f"({data['human_train_hours']} h, {data['human_train_speakers']} speakers). Held out as whole speakers "
            f"(split human-test, never trained on): {data['human_test_clips']} clips ({data['human_test_minutes']} "
            f"min) in {len(data['human_test_speakers'])} voices ({', '.join(data['human_test_speakers'])}).")


def decoding_of(evaluation: dict) -> str:
    """How an evaluation decoded (files from before beam search decoded greedily)."""
    from tiny_audio.pipeline.decoding import decoding_text

    return decoding_text(int(evaluation.get("beams", 1)))


def lora_text(adapter: dict) -> str:
    return f"rank {adapter['rank']} on {'/'.join(t.split('_')[0] for t in adapter['targets'])}"


def training_rows(chain: list[TrainingRun]) -> list[str]:
    """One table row per stage of each run in the chain."""
    rows, previous = [], None
    for run in chain:
        for stage in ("align", "lm"):
            summary = stage_summary(run.entries, stage, run.keep)
            if not summary:
                continue
            number = "1" if stage == "align" else "2"
            start = f", from {previous or f'the weights then in {run.init.name}/'}" if stage == "lm" and run.init else ""
            masking = "yes" if run.masked and stage == "lm" else "no"
            what = ("CTC onto the LLM's embedding matrix" if stage == "align"
                    else "cross-entropy through the LLM" + (f", LoRA {run.lora}" if run.lora else ""))
            val = summary["kept_val_loss"]
            kept = f"{val} (step {summary['kept_step']})" if val is not None else "—"
            rows.append(
                f"| {run.name} | {number} {stage} | {what}{start} | {run.data.get('train_clips', '—')} "
                f"| {summary['steps']} | {run.args[f'{stage}_batch']} | {run.args[f'{stage}_lr']} | {masking} "
                f"| {summary['minutes']} min | {summary['first_loss']} → {summary['last_loss_mean50']} | {kept} |")
            previous = f"{run.name} step {summary['kept_step']}"
    return rows


def masking_text(chain: list[TrainingRun]) -> str:
    if not any(run.masked for run in chain):
        return ""
    from tiny_audio.training.train import FrameMasking

    m = FrameMasking()
    return (f" Frame masking: per second of audio {m.time_masks_per_second:g} zeroed span of up to "
            f"{m.time_width} encoder frames ({m.time_width / m.frames_per_second:g} s), and {m.channel_masks} zeroed bands of up "
            f"to {m.channel_width} of the encoder's channels.")


def card(chain: list[TrainingRun], data: dict, evaluation: dict, lora: Optional[dict],
         others: Optional[dict[str, dict]] = None) -> str:
    last = chain[-1]
    lora = lora_text(lora) if lora else ""
    adapter = (f"and so is a LoRA adapter on the LLM ({lora}), merged into it at load." if lora
               else "and the LLM is used as it is (no adapter).")
    engines = ", ".join(f"{k} {v}" for k, v in data["train_engines"].items())
    sources = {"fortunes": "Debian's fortune databases", "wordnet": "WordNet's usage examples"}
    text_sources = " and ".join(f"{sources.get(k, k)} ({v})" for k, v in data["train_sources"].items())
    minutes = round(sum(stage_summary(run.entries, s).get("minutes", 0) for run in chain for s in ("align", "lm")), 1)
    rows = "\n".join(training_rows(chain))
    human_wer = ""
    if evaluation.get("human_table"):
        human_wer = ("\n### Real human voices (split human-test: speakers never trained on)\n\n"
                     + wer_table(evaluation["human_table"]) + "\n")
    comparisons = ""
    if others:
        comparisons = ("\n### Other runs on the same clips (ablations)\n\n"
                       + "\n\n".join(f"**{name}** ({decoding_of(other)})\n\n{wer_table(other['table'])}"
                                     for name, other in others.items()) + "\n")
    return f"""# nano: Whisper tiny.en + SwiGLU projector + SmolLM2-135M-Instruct

The offline default model of Projector Lab. The encoder (Whisper tiny.en, trimmed window) and the
LLM (SmolLM2-135M-Instruct) are frozen; the SwiGLU projector (k 5, hidden 1024) is trained,
{adapter}
The figures below are read from the runs' files by `python -m tiny_audio model-card`.

## Data
Synthetic speech: {data['train_clips']} training clips ({data['train_hours']} h; {engines}),
one per sentence, sentences from {text_sources}, written out as spoken, augmented (speed, gain,
noise, telephone band, reverb); built by `python -m tiny_audio dataset`. Held out: {data['held_out_clips']}
clips of fortune sentences never used in training, {data['held_out_unseen_voice']} of them in voices
never used in training.

{human_text(data)}

## Training (`python -m tiny_audio train`)
{"A run that goes on from another (`--init`) starts from the weights that run kept." + chr(10) if len(chain) > 1 else ""}{warm_text(chain)}
| run | stage | what | clips | steps | batch | peak lr | frame masking | time | loss first → last 50 | validation loss (step kept) |
|---|---|---|---:|---:|---:|---:|---|---:|---|---:|
{rows}

{minutes} min of training in all. AdamW (weight decay 0.01), 5 % linear warm-up then cosine decay
to a tenth, gradient clipping at 1.0; stage 2 in bfloat16 autocast: {last.args.get('bf16')}.{masking_text(chain)}
Validation: {last.data.get('val_clips', 200)} training-split clips kept out of each run's training (each run's
own: losses of runs on different builds are not comparable). Hardware:
{last.machine['cpu']}, {last.machine['cores']} cores, torch {last.machine['torch']} on the {last.machine['device'].upper()}.

![loss curves](nano_loss.png)

## Word error rate on the held-out set (`python -m tiny_audio eval`)
Whisper's English normaliser on both sides; Whisper tiny.en decodes the same clips with its own
decoder (the same encoder weights, its native 30 s window). Both decode alike: {decoding_of(evaluation)}.

{wer_table(evaluation['table'])}
{human_wer}
{bar_text(evaluation['table'], evaluation.get('human_table'))}
{comparisons}"""


def warm_text(chain: list[TrainingRun]) -> str:
    """Where a chain that starts from shipped weights (not a run folder) started."""
    start = chain[0].init
    if start is None:
        return ""
    return (f"{chain[0].name} started from the weights then in `{start.name}/` (not a run folder of its own: "
            f"how they were trained is in the model card shipped with them, in the repository's history); the "
            f"training time below counts only the runs listed.\n")


def ship(run_dir: Path, dataset: Path, eval_json: Path, out: Path, others: Optional[dict[str, Path]] = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in WEIGHTS:
        if (run_dir / name).is_file():
            with atomic_path(out / name) as partial:
                shutil.copyfile(run_dir / name, partial)
            written.append(out / name)
        else:  # e.g. a projector-only run: an older adapter must not be merged with it
            (out / name).unlink(missing_ok=True)
    evaluation = json.loads(eval_json.read_text())
    with atomic_path(out / "nano_eval.json") as partial:
        kept = {"model": evaluation["model"], "beams": evaluation.get("beams", 1), "table": evaluation["table"]}
        if evaluation.get("human_table"):
            kept["human_table"] = evaluation["human_table"]
        partial.write_text(json.dumps(kept, indent=1))
    chain = run_chain(run_dir)
    plot_losses(chain, out / "nano_loss.png")
    if (run_dir / HISTORY).is_file():
        with atomic_path(out / NANO_HISTORY) as partial:
            partial.write_text(shipped_history(run_dir, chain))
        written.append(out / NANO_HISTORY)
    with atomic_path(out / "NANO_MODEL_CARD.md") as partial:
        adapter = json.loads((run_dir / "nano_lora.json").read_text()) if (run_dir / "nano_lora.json").is_file() else None
        other_tables = {name: json.loads(Path(path).read_text()) for name, path in (others or {}).items()}
        partial.write_text(card(chain, data_summary(dataset), evaluation, adapter, other_tables))
    return written + [out / "nano_eval.json", out / "nano_loss.png", out / "NANO_MODEL_CARD.md"]


def shipped_history(run_dir: Path, chain: list[TrainingRun], every: int = 10) -> str:
    """The run's history file with each run's loss curves (one training step in ``every``)."""
    lines = [e for e in read_lines(run_dir / HISTORY) if e["type"] != "loss"]
    for line in lines:  # a shipped file names folders, not where they were on the training machine
        if line["type"] == "joined":
            line.update({k: re.sub(r"/(?:[^/\s]+/)+([^/\s]+)", r"\1", v) for k, v in line.items() if isinstance(v, str)})
    for run in chain:
        lines += [{"type": "loss", **vars(curve)} for curve in loss_curves(run.entries, run.name, every)]
    return "".join(json.dumps(line) + "\n" for line in lines)


def main(argv: Optional[list[str]] = None) -> int:
    from tiny_audio.paths import ASSETS

    parser = argparse.ArgumentParser(prog="python -m tiny_audio model-card", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the --out directory of python -m tiny_audio train")
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True, help="the --json file of python -m tiny_audio eval")
    parser.add_argument("--out", type=Path, default=ASSETS)
    parser.add_argument("--ablation", action="append", default=[], metavar="NAME=WER_JSON",
                        help="another run's python -m tiny_audio eval --json, tabled under NAME (repeatable)")
    args = parser.parse_args(argv)
    others = dict(item.split("=", 1) for item in args.ablation)
    for path in ship(args.run, args.dataset, args.eval, args.out, others):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
