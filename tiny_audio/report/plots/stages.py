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


def stage_histograms(result: TranscriptionResult, log_y: bool = False, shared_range: bool = False,
                     compact: bool = False) -> go.Figure:
    """One panel per traced stage, in pipeline order, with the LLM's own token embeddings right
    beside the projector's output (the pair to compare).

    ``shared_range`` draws every stage over the range shared by all of them (the native panel
    keeps its own); ``log_y`` makes the count axes logarithmic; ``compact`` lays the panels out
    two to a row, for a phone.
    """
    title = "Values at each stage of the pipeline"
    if result.trace is None or not result.trace.stages:
        return message_figure(title, "No trace for this run.")
    stages = list(result.trace.stages)
    roles = [result.role(s.name) for s in stages]
    # Shades of blue run over the projector stages that were traced, in order.
    projector_names = [s.name for s, role in zip(stages, roles) if role in (PROJECTOR, PROJECTOR_OUTPUT)]
    panels: list[Optional[tuple[StageStats, Histogram, str]]] = []
    for stats, role in zip(stages, roles):
        histogram = stats.shared_histogram if shared_range and stats.shared_histogram else stats.histogram
        index = projector_names.index(stats.name) if stats.name in projector_names else 0
        panels.append((stats, histogram, stage_color(role, index, len(projector_names))))
    output = next((i for i, role in enumerate(roles) if role == PROJECTOR_OUTPUT), len(panels) - 1)
    cols = 2 if compact else 5 if len(panels) + 1 > 8 else 4
    if result.native is not None:
        if output % cols == cols - 1:  # a blank first, so that the output and the embeddings share a row
            panels.insert(output, None)
            output += 1
        panels.insert(output + 1, (result.native.stats, result.native.stats.histogram, NATIVE_COLOR))

    subtitle = ("orange: the encoder · blues: the projector's steps · green: the LLM's side<br>dashed line: the mean · "
                + ("one x range for the pipeline stages" if shared_range else "each panel its own x range"))
    grid = [None if panel is None else _stage_panel(*panel, compact=compact) for panel in panels]
    return histogram_grid(title, grid, cols=cols, log_y=log_y, subtitle=subtitle, x_title="value")


def _stage_panel(s: StageStats, histogram: Histogram, color: str, compact: bool = False) -> Panel:
    if compact:  # a phone's half width holds the name, not the name and the shape
        title = f"<b>{s.name}</b><br>σ={short(s.std)}"
    else:
        title = f"<b>{s.name}</b> {shape_text(s.shape)}<br>σ={short(s.std)} μ={short(s.mean)}"
    return Panel(s.name, title, histogram, s.mean, color)


def histogram_grid(
    title: str,
    panels: Sequence[Optional[Panel]],
    cols: int = 3,
    log_y: bool = False,
    subtitle: Optional[str] = None,
    x_title: Optional[str] = None,
) -> go.Figure:
    """Pre-binned histograms as bar panels, the mean of each marked with a dashed line; a None
    panel leaves its place blank."""
    rows = math.ceil(len(panels) / cols)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=[p.title if p else "" for p in panels],
        horizontal_spacing=0.08 if cols <= 2 else 0.05, vertical_spacing=0.5 / rows,
    )
    # Traces, mean lines and ranges go in by axis name, all at once: Plotly's per-subplot helpers
    # (add_vline, update_xaxes with row/col) cost ~20 ms each, and live mode redraws this figure.
    traces, shapes, axes = [], [], {}
    for i, panel in enumerate(panels):
        suffix = "" if i == 0 else str(i + 1)  # make_subplots numbers the axes row by row
        if panel is None:
            axes[f"xaxis{suffix}"] = dict(visible=False)
            axes[f"yaxis{suffix}"] = dict(visible=False)
            continue
        name, _, histogram, mean, color = panel
        lo, width, _ = bins(histogram)
        traces.append(go.Bar(
            x0=lo + width / 2,
            dx=width,
            y=np.asarray(histogram.counts, dtype=np.int64),  # Plotly narrows the int type
            marker=dict(color=color, line=dict(width=0)),
            name=name,
            hovertemplate="%{x:.3g}: %{y} values<extra></extra>",
            xaxis=f"x{suffix}",
            yaxis=f"y{suffix}",
        ))
        mean = round_layout(mean)
        shapes.append(dict(type="line", xref=f"x{suffix}", yref=f"y{suffix} domain", x0=mean, x1=mean, y0=0, y1=1))
        axes[f"xaxis{suffix}"] = dict(range=x_range(histogram))
    fig.add_traces(traces)
    fig.update_layout(shapes=shapes, **axes)

    # Subplot titles are two lines above each panel: the top row's need room under the title.
    fig.update_layout(**layout(title, 100 + 190 * rows, subtitle=subtitle, top=32, bargap=0))
    if x_title:
        fig.update_layout(margin=dict(b=60))
    fig.update_annotations(font=dict(size=11))
    fig.update_xaxes(nticks=3 if cols <= 2 else 5)  # a phone's half width holds three labels like "−100"
    # On a log axis only the powers of ten are labelled: "1", "100", "10k", never "2 5 2 5".
    fig.update_yaxes(nticks=4, type="log" if log_y else "linear", exponentformat="SI", **({"dtick": 1} if log_y else {}))
    titles = {}
    for row in range(rows):  # each row's first panel
        titles[f"yaxis{'' if row == 0 else row * cols + 1}_title"] = dict(
            text="count (log)" if log_y else "count", font=dict(size=11))
    if x_title:
        for i in range(len(panels)):
            if panels[i] is not None and i + cols >= len(panels):  # each column's lowest panel
                titles[f"xaxis{'' if i == 0 else i + 1}_title"] = dict(text=x_title, font=dict(size=11))
    fig.update_layout(**titles)
    return fig
