"""Exercise 2: the data of the course's 2×3 stage-by-stage grid, from a traced result.

Up to five projector stages, then the target LLM's token embeddings;
``report.plots.stage_grid_figure`` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiny_audio.pipeline.stages import LLM_EMBEDDINGS, MLP_STAGES, STACKED, SWIGLU_STAGES
from tiny_audio.pipeline.trace import Histogram

# The course's five panels for its SwiGLU and for today's MLP; other projectors show their own
# stages (the first four and the output when there are more than five). Each panel carries its
# stage's name as every other tab gives it (the course labels them "Prenorm", "Final" and "Target
# LLM"; the tab's note says so), and the projector's output panel says it goes to the LLM.
SWIGLU_GRID = (STACKED, "pre-norm", "swiglu", "down", "post-norm")
MLP_GRID = (STACKED, "linear_1", "gelu", "linear_2", "norm_2")
OUTPUT_MARK = " → LLM"


def grid_layout(projector_stages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(stage, label) of the projector panels for a projector that records ``projector_stages``."""
    if tuple(projector_stages) == SWIGLU_STAGES:
        shown = SWIGLU_GRID
    elif tuple(projector_stages) == MLP_STAGES:
        shown = MLP_GRID
    else:
        shown = projector_stages[:4] + projector_stages[-1:] if len(projector_stages) > 5 else projector_stages
    return tuple((stage, stage + OUTPUT_MARK if stage == shown[-1] else stage) for stage in shown)


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
    panels.append((result.native.stats, LLM_EMBEDDINGS, LLM_EMBEDDINGS))
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
