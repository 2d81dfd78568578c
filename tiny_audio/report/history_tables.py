"""The training history in numbers: one row per snapshot, for the CLI (``python -m tiny_audio
history``) and the app's Training view."""

from __future__ import annotations

from tiny_audio.pipeline.history import History, Snapshot
from tiny_audio.report.table import Table
from tiny_audio.report.words import word_error_rate


def probe_numbers(snapshot: Snapshot, history: History) -> dict[str, dict]:
    """Per probe clip: the transcript, its WER, how the projector output compares with the LLM's
    embeddings, and each stage's spread."""
    numbers = {}
    for name, result in snapshot.results.items():
        comparison = result.trace.comparison if result.trace else None
        numbers[name] = {
            "text": result.text,
            "wer": word_error_rate(history.reference(name), result.text),
            "rms_ratio": comparison.rms_ratio if comparison else None,
            "std_ratio": comparison.std_ratio if comparison else None,
            "total_variation": comparison.total_variation if comparison else None,
            "stages": {s.name: {"mean": s.mean, "std": s.std, "rms": s.rms, "max_abs": max(abs(s.min), abs(s.max))}
                       for s in result.stages},
        }
    return numbers


def history_steps(history: History) -> list[dict]:
    """One entry per snapshot, oldest first (what ``history --json`` prints under ``steps``)."""
    steps = []
    for snapshot in history.snapshots:
        probes = probe_numbers(snapshot, history)
        steps.append({"run": snapshot.run, "stage": snapshot.stage, "step": snapshot.step, "label": snapshot.label,
                      "wer": _mean([p["wer"] for p in probes.values()]),
                      "rms_ratio": _mean([p["rms_ratio"] for p in probes.values() if p["rms_ratio"] is not None]),
                      "probes": probes})
    return steps


def history_table(history: History) -> Table:
    rows = []
    for entry in history_steps(history):
        probes = list(entry["probes"].values())
        mean = {key: _mean([p[key] for p in probes if p[key] is not None]) for key in ("std_ratio", "total_variation")}
        last = probes[-1]["text"] if probes else ""
        rows.append([entry["run"], entry["stage"], str(entry["step"]), _percent(entry["wer"]), _ratio(entry["rms_ratio"]),
                     _ratio(mean["std_ratio"]), _ratio(mean["total_variation"]), _clip(last, 48)])
    last_probe = history.probes[-1].name if history.probes else "—"
    notes = [f"WER: word errors of the greedy transcripts of the {len(history.probes)} probe clips, on average.",
             "RMS ÷ LLM, σ ÷ LLM: the projector output's RMS and spread over those of the LLM's own token "
             "embeddings (1 = the same scale). TV: total variation between the two value distributions "
             "(0 = identical, 1 = no overlap).",
             f"Transcript: of the last probe clip, {last_probe}."]
    notes += [f"{j['run']}: {j['how']}" + (f" ({j['note']})" if j.get("note") else "") for j in history.joins]
    return Table(["run", "stage", "step", "WER", "RMS ÷ LLM", "σ ÷ LLM", "TV", "transcript"], rows, notes,
                 align="lllrrrrl")


def _mean(values: list[float]):
    return sum(values) / len(values) if values else None


def _percent(value) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
