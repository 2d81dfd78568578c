"""Exercise 2: the data of the course's 2×3 stage-by-stage grid, from a traced result.

Five projector stages, then the target LLM's token embeddings; ``report.plots.stage_grid_figure`` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiny_audio.pipeline.stages import LLM_EMBEDDINGS, STACKED
from tiny_audio.pipeline.trace import Histogram

# (stage name in the trace, the course's panel label); the projectors' stages are stages.SWIGLU_STAGES
# and stages.MLP_STAGES.
SWIGLU_GRID = (
    (STACKED, "Stacked"), ("pre-norm", "Prenorm"), ("swiglu", "Swiglu"), ("down", "Down"), ("post-norm", "Final"),
)
MLP_GRID = (
    (STACKED, "Stacked"), ("linear_1", "Linear 1"), ("gelu", "GELU"), ("linear_2", "Linear 2"), ("norm_2", "Final"),
)


@dataclass
class GridPanel:
    row: int  # 0..1
    col: int  # 0..2
    stage: str
    title: str  # "<label> (μ=…, σ=…)", as the course titles its panels
    mean: float
    std: float
    shape: tuple[int, ...]
    histogram: Histogram


def grid_panels(result) -> list[GridPanel]:
    """The six panels of the course's 2×3 grid: five projector stages, then the target LLM's
    token embeddings (the whole embedding matrix, not two sampled tokens)."""
    if result.trace is None or result.native is None:
        raise ValueError("the stage grid needs a traced result (transcribe with trace=True)")
    names = {s.name for s in result.trace.stages}
    layout = SWIGLU_GRID if "swiglu" in names else MLP_GRID
    panels = [(result.trace.stage(stage), stage, label) for stage, label in layout]
    panels.append((result.native.stats, LLM_EMBEDDINGS, "Target LLM"))
    return [
        GridPanel(
            row=i // 3,
            col=i % 3,
            stage=stage,
            title=f"{label} (μ={stats.mean:.3f}, σ={stats.std:.3f})",
            mean=stats.mean,
            std=stats.std,
            shape=stats.shape,
            histogram=stats.histogram,
        )
        for i, (stats, stage, label) in enumerate(panels)
    ]
