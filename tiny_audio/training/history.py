"""Snapshots of the model while it trains, for the app's Training view.

At step 0 of every stage (before any update), every ``every`` steps and on the exported weights,
each probe clip goes through ``AudioLLM.transcribe`` — the app's own code, greedy, traced — and
the compact result is appended to ``RUN/history.jsonl`` (format: ``tiny_audio.pipeline.history``).
A run that goes on from another run's weights carries that run's history first; a resumed stage
drops the snapshots after its checkpoint, as the loss log does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
from torch import nn

from tiny_audio.pipeline.history import HISTORY, Probe, compact, history_path, read_lines, rounded
from tiny_audio.loading.weights.cache import atomic_path
from tiny_audio.paths import EXAMPLES_DIR
from tiny_audio.pipeline.audio import load_audio
from tiny_audio.pipeline.model import AudioLLM

HUMAN_PROBE_SPEAKER = "queen/joe"  # always a training speaker (never held out), and the most heard
HUMAN_PROBE_SECONDS = 3.5


def probe_clips(dataset: Optional[Path]) -> list[tuple[Probe, np.ndarray]]:
    """The example clips, then one human training clip of ``dataset`` (when it has any): the
    hero's line nearest ``HUMAN_PROBE_SECONDS`` long (another speaker's if the hero has none)."""
    probes = []
    for wav in sorted(EXAMPLES_DIR.glob("*.wav")):
        samples = load_audio(str(wav))
        text = wav.with_suffix(".txt")
        probes.append((Probe(wav.stem, text.read_text().strip() if text.is_file() else "", "example clip",
                             round(samples.size / 16000, 2)), samples))
    manifest = dataset / "manifest.jsonl" if dataset else None
    if manifest and manifest.is_file():
        records = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        human = sorted((r for r in records if r.get("kind") == "human" and r.get("split") == "train"),
                       key=lambda r: (r.get("speaker") != HUMAN_PROBE_SPEAKER,
                                      abs(r.get("duration", 0) - HUMAN_PROBE_SECONDS), r["id"]))
        if human:
            record = human[0]
            samples, _ = sf.read(dataset / record["path"], dtype="float32")
            probes.append((Probe(record["id"], record["text"], f"human speech ({record['speaker']}), training split",
                                 round(samples.size / 16000, 2)), samples))
    return probes


class HistoryRecorder:
    """Appends snapshots of ``model`` on the probe clips to ``out/history.jsonl``."""

    def __init__(self, model: AudioLLM, probes: list[tuple[Probe, np.ndarray]], out: Path, every: int = 100):
        self.model, self.probes, self.every = model, probes, every
        self.path = out / HISTORY
        self.run = out.resolve().name

    def start(self, joined: dict, predecessor: Optional[Path] = None) -> None:
        """A new history for this run: the predecessor's lines (if it kept a history), the
        probes and the LLM's embeddings, then where this run joined. A resumed run keeps its file."""
        if self.path.is_file():
            self._append({"type": "joined", "run": self.run, "how": "resumed"})
            return
        lines = []
        if predecessor is not None:
            try:
                lines = [e for e in read_lines(history_path(predecessor)) if e["type"] in ("joined", "snapshot", "loss")]
            except FileNotFoundError:
                joined = {**joined, "note": f"{predecessor.name} kept no training history"}
        lines += [{"type": "probes", "probes": [vars(p) for p, _ in self.probes]},
                  {"type": "native", "native": rounded(self.model.native.summary.to_dict())},
                  {"type": "joined", "run": self.run, **joined}]
        self._write(lines)

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def record(self, stage: str, step: int, modules: dict[str, nn.Module] = {}, model: Optional[AudioLLM] = None) -> None:
        """Trace every probe with the model as it is now (``modules`` go back to training mode),
        or with ``model`` (the exported weights, loaded as the app loads them)."""
        model = model or self.model
        training = [m for m in modules.values() if m.training]
        for module in training:
            module.eval()
        try:
            results = {probe.name: compact(model.transcribe(samples, beams=1)) for probe, samples in self.probes}
        finally:
            for module in training:
                module.train()
        self._append({"type": "snapshot", "run": self.run, "stage": stage, "step": step, "results": results})

    def drop_after(self, stage: str, step: int) -> None:
        """Forget this run's snapshots of ``stage`` after ``step`` (-1: all of them)."""
        if not self.path.is_file():
            return
        kept = [e for e in read_lines(self.path)
                if not (e["type"] == "snapshot" and e["run"] == self.run and e["stage"] == stage and e["step"] > step)]
        self._write(kept)

    def _append(self, entry: dict) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def _write(self, lines: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as partial:
            partial.write_text("".join(json.dumps(e) + "\n" for e in lines))
