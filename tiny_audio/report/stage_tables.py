"""The per-stage tables of one run: statistics of every stage, and the course's Exercise 1 trace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiny_audio.pipeline.stages import GENERATED_TOKENS
from tiny_audio.report.numbers import shape_text, sig4

if TYPE_CHECKING:
    from tiny_audio.pipeline.result import TranscriptionResult

STATS_HEADERS = ["stage", "shape", "mean", "std", "min", "max", "RMS", "% zeros"]


def stats_rows(result: TranscriptionResult) -> tuple[list[str], list[list[str]]]:
    """The per-stage statistics table, stages in pipeline order, then the LLM's embeddings."""
    stages = list(result.stages)
    if result.native is not None:
        stages.append(result.native.stats)
    rows = [
        [
            s.name,
            shape_text(s.shape),
            *(sig4(v) for v in (s.mean, s.std, s.min, s.max, s.rms)),
            sig4(100 * s.zero_fraction),
        ]
        for s in stages
    ]
    return list(STATS_HEADERS), rows


def trace_rows(result: TranscriptionResult, k: int) -> tuple[list[str], list[list[str]]]:
    """The course's Exercise 1 table: how the encoder's frames become the LLM's audio tokens.

    Time reduction is measured (encoder frames / stage frames), so it shows the padding that
    makes it differ slightly from the stack rate ``k``."""
    headers = ["stage", "shape", "frames", "feature dim", f"time reduction (k={k})", "ms of audio per frame"]
    stages = [s for s in result.stages if s.name != GENERATED_TOKENS]
    if not stages:
        return headers, []
    encoder_frames = stages[0].shape[-2]
    rows = []
    for s in stages:
        frames, dim = s.shape[-2], s.shape[-1]
        rows.append(
            [
                s.name,
                shape_text(s.shape),
                str(frames),
                str(dim),
                f"{encoder_frames / frames:.2f}×",
                f"{1000 * result.duration_s / frames:.1f}",
            ]
        )
    return headers, rows
