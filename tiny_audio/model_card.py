"""Ship a training run as the nano model: weights, evaluation and a model card into ``assets/``.

    python -m tiny_audio.eval data/nano --json runs/nano/wer.json
    python -m tiny_audio.model_card runs/nano --dataset data/nano --eval runs/nano/wer.json

Copies ``nano_projector.safetensors`` and the LoRA adapter from the run, writes
``nano_eval.json`` (the WER table the app quotes), ``nano_loss.png`` (the loss curves) and
``NANO_MODEL_CARD.md``. Every measured figure in the card (data, steps, time, losses, WER) is read
from the run's own files (``args.json``, ``loss.jsonl``), the dataset's manifest and the
evaluation; the fixed architecture and optimiser settings are stated in the text.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

from .weights.cache import atomic_path

WEIGHTS = ("nano_projector.safetensors", "nano_lora.safetensors", "nano_lora.json")


def stage_summary(entries: list[dict], stage: str) -> dict:
    """Steps, wall time (summed over resumed segments), first and last losses of one stage."""
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
    return {"steps": steps[-1]["step"], "minutes": round(seconds / 60, 1),
            "first_loss": steps[0]["loss"], "last_loss_mean50": round(sum(tail) / len(tail), 3),
            "last_val_loss": vals[-1]["val_loss"] if vals else None}


def plot_losses(entries: list[dict], path: Path) -> None:
    """Training loss (moving average over 25 steps) and validation loss, one panel per stage."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    titles = {"align": "stage 1: CTC onto the LLM's embeddings", "lm": "stage 2: LLM cross-entropy (LoRA)"}
    stages = [s for s in ("align", "lm") if any(e["stage"] == s for e in entries)]
    figure = make_subplots(rows=1, cols=len(stages), subplot_titles=[titles[s] for s in stages])
    for column, stage in enumerate(stages, 1):
        steps = [e for e in entries if e["stage"] == stage and "loss" in e]
        x = [e["step"] for e in steps]
        losses = [e["loss"] for e in steps]
        smooth = [sum(losses[max(0, i - 24) : i + 1]) / len(losses[max(0, i - 24) : i + 1]) for i in range(len(losses))]
        figure.add_trace(go.Scatter(x=x, y=smooth, name=f"{stage} train", line={"color": "#1f77b4"}), 1, column)
        vals = [e for e in entries if e["stage"] == stage and "val_loss" in e]
        figure.add_trace(go.Scatter(x=[e["step"] for e in vals], y=[e["val_loss"] for e in vals],
                                    mode="lines+markers", name=f"{stage} validation", line={"color": "#d62728"}), 1, column)
        figure.update_xaxes(title_text="step", row=1, col=column)
        figure.update_yaxes(title_text="loss", type="log", row=1, col=column)
    figure.update_layout(width=1000, height=380, template="plotly_white", margin={"t": 40, "b": 40, "l": 60, "r": 20},
                         legend={"orientation": "h", "y": -0.2})
    with atomic_path(path) as partial:
        figure.write_image(str(partial), format="png")


def data_summary(dataset: Path) -> dict:
    from .dataset import read_manifest

    records = read_manifest(dataset / "manifest.jsonl")
    train = [r for r in records if r["split"] == "train"]
    held = [r for r in records if r["split"] != "train"]
    return {"train_clips": len(train), "held_out_clips": len(held),
            "train_hours": round(sum(r["duration"] for r in train) / 3600, 2),
            "train_engines": dict(Counter(r["engine"] for r in train).most_common()),
            "held_out_engines": dict(Counter(r["engine"] for r in held).most_common()),
            "held_out_unseen_voice": sum(1 for r in held if r.get("unseen_voice"))}


def wer_table(table: dict) -> str:
    systems = [key[: -len("_wer")] for key in table["all"] if key.endswith("_wer")]
    lines = ["| clips | count | words | " + " | ".join(f"{s} WER" for s in systems) + " |",
             "|---|---:|---:|" + "---:|" * len(systems)]
    for group in ["all"] + sorted(g for g in table if g != "all"):
        row = table[group]
        lines.append(f"| {group} | {row['clips']} | {row['words']} | "
                     + " | ".join(f"{100 * row[f'{s}_wer']:.1f}%" for s in systems) + " |")
    return "\n".join(lines)


def bar_text(table: dict) -> str:
    """The bar the model was trained for, against this evaluation."""
    from .eval import bar_lines

    return "\n".join(f"- {line}" for line in bar_lines(table))


def card(run: dict, data: dict, stages: dict, evaluation: dict, lora: Optional[dict],
         others: Optional[dict[str, dict]] = None) -> str:
    args, machine = run["args"], run["machine"]
    align, lm = stages.get("align", {}), stages.get("lm", {})
    lora = f"rank {lora['rank']} on {'/'.join(t.split('_')[0] for t in lora['targets'])}" if lora else ""
    adapter = (f"and so is a LoRA adapter on the LLM ({lora}), merged into it at load." if lora
               else "and the LLM is used as it is (no adapter).")
    engines = ", ".join(f"{k} {v}" for k, v in data["train_engines"].items())
    comparisons = ""
    if others:
        comparisons = ("\n### Other runs on the same clips (ablations)\n\n"
                       + "\n\n".join(f"**{name}**\n\n{wer_table(other['table'])}" for name, other in others.items()) + "\n")
    return f"""# nano: Whisper tiny.en + SwiGLU projector + SmolLM2-135M-Instruct

The offline default model of Projector Lab. The encoder (Whisper tiny.en, trimmed window) and the
LLM (SmolLM2-135M-Instruct) are frozen; the SwiGLU projector (k 5, hidden 1024) is trained,
{adapter}
The figures below are read from the run's files by `python -m tiny_audio.model_card`.

## Data
Synthetic speech only: {data['train_clips']} training clips ({data['train_hours']} h; {engines}),
sentences from Debian's fortune databases written out as spoken, augmented (speed, gain, noise,
telephone band, reverb); built by `python -m tiny_audio.dataset`. Held out: {data['held_out_clips']}
clips of sentences never used in training, {data['held_out_unseen_voice']} of them in voices
never used in training. No human speech: real voices, accents and rooms are untested.

## Training (`python -m tiny_audio.train`)
| stage | what | steps | batch | peak lr | time | loss first → last 50 | validation loss |
|---|---|---:|---:|---:|---:|---|---:|
| 1 align | CTC onto the LLM's embedding matrix | {align.get('steps')} | {args['align_batch']} | {args['align_lr']} | {align.get('minutes')} min | {align.get('first_loss')} → {align.get('last_loss_mean50')} | {align.get('last_val_loss')} |
| 2 lm | cross-entropy through the LLM{", LoRA " + lora if lora else ""} | {lm.get('steps')} | {args['lm_batch']} | {args['lm_lr']} | {lm.get('minutes')} min | {lm.get('first_loss')} → {lm.get('last_loss_mean50')} | {lm.get('last_val_loss')} |

AdamW (weight decay 0.01), 5 % linear warm-up then cosine decay to a tenth, gradient clipping at
1.0; stage 2 in bfloat16 autocast: {args.get('bf16')}. Hardware: {machine['cpu']}, {machine['cores']}
cores, torch {machine['torch']} on the {machine['device'].upper()}.

![loss curves](nano_loss.png)

## Word error rate on the held-out set (`python -m tiny_audio.eval`)
Whisper's English normaliser on both sides; Whisper tiny.en decodes the same clips with its own
decoder (the same encoder weights, its native 30 s window).

{wer_table(evaluation['table'])}

{bar_text(evaluation['table'])}
{comparisons}"""


def ship(run_dir: Path, dataset: Path, eval_json: Path, out: Path, others: Optional[dict[str, Path]] = None) -> list[Path]:
    from .train import LossLog

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
        partial.write_text(json.dumps({"model": evaluation["model"], "table": evaluation["table"]}, indent=1))
    entries = LossLog(run_dir / "loss.jsonl").read()
    plot_losses(entries, out / "nano_loss.png")
    stages = {s: stage_summary(entries, s) for s in ("align", "lm")}
    run = json.loads((run_dir / "args.json").read_text())
    with atomic_path(out / "NANO_MODEL_CARD.md") as partial:
        adapter = json.loads((run_dir / "nano_lora.json").read_text()) if (run_dir / "nano_lora.json").is_file() else None
        other_tables = {name: json.loads(Path(path).read_text()) for name, path in (others or {}).items()}
        partial.write_text(card(run, data_summary(dataset), stages, evaluation, adapter, other_tables))
    return written + [out / "nano_eval.json", out / "nano_loss.png", out / "NANO_MODEL_CARD.md"]


def main(argv: Optional[list[str]] = None) -> int:
    from .loading import ASSETS

    parser = argparse.ArgumentParser(prog="python -m tiny_audio.model_card", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the --out directory of python -m tiny_audio.train")
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True, help="the --json file of python -m tiny_audio.eval")
    parser.add_argument("--out", type=Path, default=ASSETS)
    parser.add_argument("--ablation", action="append", default=[], metavar="NAME=WER_JSON",
                        help="another run's python -m tiny_audio.eval --json, tabled under NAME (repeatable)")
    args = parser.parse_args(argv)
    others = dict(item.split("=", 1) for item in args.ablation)
    for path in ship(args.run, args.dataset, args.eval, args.out, others):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
