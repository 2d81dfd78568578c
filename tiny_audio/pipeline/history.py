"""The projector's training history as plain data: what a run's snapshots hold, read back as results.

A training run appends to ``RUN/history.jsonl`` (``tiny_audio.training.history`` writes it); the
shipped model's history is ``assets/nano_history.jsonl``, the same lines plus the loss curves.
Each line is one JSON object with a ``type``:

- ``probes``: the clips every snapshot traces (name, reference text, where it comes from);
- ``native``: the LLM's input-embedding matrix in numbers (frozen, so written once);
- ``joined``: where a run started (fresh, warm from another run's weights, or resumed);
- ``snapshot``: one step of one stage, each probe's ``TranscriptionResult`` made compact;
- ``loss``: one stage's training and validation loss (only in the shipped file).

A snapshot's results are the app's own results with the parts no view of a history draws
dropped (timings, the shared-range histograms, per-dimension variances) and numbers rounded;
``expand`` turns them back into ``TranscriptionResult`` objects for the app's plot code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tiny_audio.paths import ASSETS
from tiny_audio.pipeline.result import TranscriptionResult
from tiny_audio.pipeline.trace import Comparison, EmbeddingSummary, Histogram, StageStats, Trace

HISTORY = "history.jsonl"  # in a run's folder
NANO_HISTORY = "nano_history.jsonl"  # in assets/
DIGITS = 5  # significant digits kept of every float


@dataclass
class Probe:
    name: str
    reference: str
    source: str  # e.g. "example clip", "human speech (queen/joe), training split"
    duration_s: float


@dataclass
class Snapshot:
    run: str
    stage: str  # "init" (the untrained projector), "align", "lm" or "export" (the shipped weights)
    step: int
    results: dict[str, TranscriptionResult]  # probe name → result

    @property
    def label(self) -> str:
        if self.stage == "init":
            return f"{self.run}: untrained projector"
        if self.stage == "export":
            return f"{self.run}: exported weights (step {self.step})"
        return f"{self.run}: {self.stage} step {self.step}"


@dataclass
class LossCurve:
    run: str
    stage: str
    steps: list[int]
    loss: list[float]
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


@dataclass
class History:
    probes: list[Probe]
    snapshots: list[Snapshot]
    joins: list[dict]  # the ``joined`` lines, in order
    losses: list[LossCurve]
    native: Optional[EmbeddingSummary] = None

    def reference(self, probe: str) -> str:
        return next((p.reference for p in self.probes if p.name == probe), "")


# ----- numbers in and out ----------------------------------------------------------------


def rounded(value, digits: int = DIGITS):
    """``value`` with every float at ``digits`` significant digits (lists and dicts walked)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(item, digits) for item in value]
    return value


def compact(result: TranscriptionResult) -> dict:
    """What a snapshot keeps of a result (the LLM's embeddings are kept once, in ``native``)."""
    data = result.to_dict()
    for key in ("timings", "llm_embeddings", "raw_text", "notice", "device", "dtype", "audio_token_ms"):
        data.pop(key, None)
    trace = data["trace"]
    if trace:
        trace.pop("dim_variance", None)
        for stage in trace["stages"]:
            stage.pop("shared_histogram", None)
            stage["histogram"] = {"counts": stage["histogram"]["counts"]}  # edges follow from min and max
        if trace.get("comparison"):
            histogram = trace["comparison"]["histogram"]  # on the native histogram's edges
            trace["comparison"]["histogram"] = {k: histogram[k] for k in ("counts", "below", "above")}
    return rounded(data)


def _edges(lo: float, hi: float, bins: int) -> list[float]:
    return [lo + (hi - lo) * i / bins for i in range(bins + 1)]


def _stage(data: dict) -> StageStats:
    counts = data["histogram"]["counts"]
    fields = {k: data[k] for k in ("name", "numel", "mean", "std", "min", "max", "rms", "zero_fraction")}
    return StageStats(shape=tuple(data["shape"]), histogram=Histogram(counts, _edges(data["min"], data["max"], len(counts))),
                      **fields)


def native_from_dict(data: dict) -> EmbeddingSummary:
    stats = dict(data["stats"])
    histogram = stats.pop("histogram")
    stats.pop("shared_histogram", None)
    return EmbeddingSummary(StageStats(shape=tuple(stats.pop("shape")), histogram=Histogram(**histogram), **stats),
                            data["typical_row_norm"])


def expand(data: dict, native: Optional[EmbeddingSummary]) -> TranscriptionResult:
    """A compact result back as the object the app's views draw."""
    trace = None
    if data.get("trace"):
        raw = data["trace"]
        comparison = None
        if raw.get("comparison") and native is not None:
            c = dict(raw["comparison"])
            h = c.pop("histogram")
            comparison = Comparison(Histogram(h["counts"], list(native.stats.histogram.edges), h["below"], h["above"]), **c)
        trace = Trace(stages=[_stage(s) for s in raw["stages"]], frame_norms=raw["frame_norms"], dim_variance=[],
                      nearest_tokens=[[(int(t), s) for t, s in row] for row in raw["nearest_tokens"]],
                      comparison=comparison)
    return TranscriptionResult(
        text=data["text"], raw_text=data["text"], token_ids=data["token_ids"], trace=trace, timings={},
        duration_s=data.get("duration_s", 0.0), model_name=data["model_name"], device="cpu", dtype="float32",
        projector_trained=data["projector_trained"], beams=data["beams"], k=data["k"], stack_mode=data["stack_mode"],
        projector_stages=tuple(data["projector_stages"]), encoder_frame_ms=data["encoder_frame_ms"],
        token_texts={int(k): v for k, v in data["token_texts"].items()}, native=native)


# ----- the file --------------------------------------------------------------------------


def history_path(source: Path) -> Path:
    """The history file of a run folder, of ``assets/``, or the file itself."""
    source = Path(source)
    if source.is_dir():
        for name in (HISTORY, NANO_HISTORY):
            if (source / name).is_file():
                return source / name
        raise FileNotFoundError(f"{source} holds no {HISTORY} or {NANO_HISTORY}")
    if not source.is_file():
        raise FileNotFoundError(f"no such history: {source}")
    return source


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_history(source: Path = ASSETS) -> History:
    """A run's history (with its loss log beside it), or the shipped one."""
    path = history_path(source)
    lines = read_lines(path)
    native = next((native_from_dict(e["native"]) for e in lines if e["type"] == "native"), None)
    probes = [Probe(**p) for e in lines if e["type"] == "probes" for p in e["probes"]]
    snapshots = [Snapshot(e["run"], e["stage"], e["step"], {name: expand(r, native) for name, r in e["results"].items()})
                 for e in lines if e["type"] == "snapshot"]
    losses = [LossCurve(**{k: v for k, v in e.items() if k != "type"}) for e in lines if e["type"] == "loss"]
    if not losses and (path.parent / "loss.jsonl").is_file():
        losses = loss_curves(read_lines(path.parent / "loss.jsonl"), run=path.parent.name)
    return History(probes, snapshots, [e for e in lines if e["type"] == "joined"], losses, native)


def loss_curves(entries: list[dict], run: str, every: int = 1) -> list[LossCurve]:
    """The stages of a ``loss.jsonl`` as curves (``every``: keep one training step in that many)."""
    curves: dict[str, LossCurve] = {}
    for entry in entries:
        curve = curves.setdefault(entry["stage"], LossCurve(run, entry["stage"], [], []))
        if "val_loss" in entry:
            curve.val_steps.append(entry["step"])
            curve.val_loss.append(entry["val_loss"])
        elif "loss" in entry and (entry["step"] % every == 0 or entry["step"] == 1):
            curve.steps.append(entry["step"])
            curve.loss.append(entry["loss"])
    return list(curves.values())
