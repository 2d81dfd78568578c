"""Histograms of every traced stage, one panel each, and the panel grid other figures reuse."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple, Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tiny_audio.pipeline.stages import PROJECTOR, PROJECTOR_OUTPUT
from tiny_audio.report.numbers import shape_text, short
from tiny_audio.report.plots.style import NATIVE_COLOR, bins, layout, message_figure, round_layout, stage_color, x_range

if TYPE_CHECKING:
    from tiny_audio.pipeline.result import TranscriptionResult
    from tiny_audio.pipeline.trace import Histogram, StageStats


class Panel(NamedTuple):
    name: str  # trace name (hover, tests)
    title: str  # subplot title, may hold <b> and <br>
    histogram: Histogram
    mean: float  # marked with a dashed line
    color: str


def stage_histograms(result: TranscriptionResult, log_y: bool = False, shared_range: bool = False) -> go.Figure:
    """One panel per traced stage, in pipeline order, plus the LLM's own token embeddings.

    ``shared_range`` draws every stage over the range shared by all of them (the native panel
    keeps its own); ``log_y`` makes the count axes logarithmic.
    """
    title = "Values at each stage of the pipeline"
    if result.trace is None or not result.trace.stages:
        return message_figure(title, "No trace for this run.")
    stages = list(result.trace.stages)
    roles = [result.role(s.name) for s in stages]
    # Shades of blue run over the projector stages that were traced, in order.
    projector_names = [s.name for s, role in zip(stages, roles) if role in (PROJECTOR, PROJECTOR_OUTPUT)]
    panels: list[tuple[StageStats, Histogram, str]] = []
    for stats, role in zip(stages, roles):
        histogram = stats.shared_histogram if shared_range and stats.shared_histogram else stats.histogram
        index = projector_names.index(stats.name) if stats.name in projector_names else 0
        panels.append((stats, histogram, stage_color(role, index, len(projector_names))))
    if result.native is not None:
        panels.append((result.native.stats, result.native.stats.histogram, NATIVE_COLOR))

    subtitle = "dashed line = mean" + (" · one shared x range for the pipeline stages" if shared_range else "")
    grid = [
        Panel(s.name, f"<b>{s.name}</b> {shape_text(s.shape)}<br>μ={short(s.mean)} σ={short(s.std)}", histogram,
              s.mean, color)
        for s, histogram, color in panels
    ]
    return histogram_grid(title, grid, cols=4 if len(grid) > 9 else 3, log_y=log_y, subtitle=subtitle)


def histogram_grid(
    title: str,
    panels: Sequence[Panel],
    cols: int = 3,
    log_y: bool = False,
    subtitle: Optional[str] = None,
) -> go.Figure:
    """Pre-binned histograms as bar panels, the mean of each marked with a dashed line."""
    rows = math.ceil(len(panels) / cols)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=[p.title for p in panels], horizontal_spacing=0.05,
        vertical_spacing=0.5 / rows,
    )
    for i, (name, _, histogram, mean, color) in enumerate(panels):
        row, col = i // cols + 1, i % cols + 1
        lo, width, _ = bins(histogram)
        fig.add_trace(
            go.Bar(
                x0=lo + width / 2,
                dx=width,
                y=np.asarray(histogram.counts, dtype=np.int64),  # Plotly narrows the int type
                marker=dict(color=color, line=dict(width=0)),
                name=name,
                hovertemplate="%{x:.3g}: %{y} values<extra></extra>",
            ),
            row=row,
            col=col,
        )
        fig.add_vline(x=round_layout(mean), row=row, col=col)
        fig.update_xaxes(range=x_range(histogram), row=row, col=col)

    # Subplot titles are two lines above each panel: the top row's need room under the title.
    fig.update_layout(**layout(title, 100 + 190 * rows, subtitle=subtitle, top=32, bargap=0))
    fig.update_annotations(font=dict(size=11))
    fig.update_xaxes(nticks=5)
    fig.update_yaxes(nticks=4, type="log" if log_y else "linear", exponentformat="SI")
    for row in range(1, rows + 1):
        fig.update_yaxes(title=dict(text="count (log)" if log_y else "count", font=dict(size=11)), row=row, col=1)
    return fig
