"""Exercise 2: the data of the course's 2×3 stage-by-stage grid, from a traced result.

Up to five projector stages, then the target LLM's token embeddings;
``report.plots.stage_grid_figure`` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiny_audio.pipeline.stages import LLM_EMBEDDINGS, MLP_STAGES, STACKED, SWIGLU_STAGES
from tiny_audio.pipeline.trace import Histogram

# Five panels (stage name in the trace, its label) for the course's SwiGLU and today's MLP;
# other projectors show their own stages (at most five), the last labelled "Final".
SWIGLU_GRID = (
    (STACKED, "Stacked"), ("pre-norm", "Prenorm"), ("swiglu", "Swiglu"), ("down", "Down"), ("post-norm", "Final"),
)
MLP_GRID = (
    (STACKED, "Stacked"), ("linear_1", "Linear 1"), ("gelu", "GELU"), ("linear_2", "Linear 2"), ("norm_2", "Final"),
)
LABELS = {STACKED: "Stacked", "linear_1": "Linear 1", "gelu": "GELU", "linear_2": "Linear 2", "norm": "Norm",
          "downsample": "Downsample"}


def grid_layout(projector_stages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(stage, label) of the projector panels for a projector that records ``projector_stages``."""
    if tuple(projector_stages) == SWIGLU_STAGES:
        return SWIGLU_GRID
    if tuple(projector_stages) == MLP_STAGES:
        return MLP_GRID
    shown = projector_stages[:4] + projector_stages[-1:] if len(projector_stages) > 5 else projector_stages
    return tuple((stage, "Final" if stage == shown[-1] else LABELS.get(stage, stage)) for stage in shown)


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
    panels = [(result.trace.stage(stage), stage, label) for stage, label in grid_layout(result.projector_stages)]
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
