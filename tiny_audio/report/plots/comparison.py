"""How the projector's output compares with what the LLM expects: its value distribution over
the LLM's own embeddings', each audio token's norm, and how its variance spreads over dimensions."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

import numpy as np
import plotly.graph_objects as go

from tiny_audio.pipeline.stages import PROJECTOR_OUTPUT
from tiny_audio.report.numbers import shape_text, short
from tiny_audio.report.plots.style import (
    NATIVE_COLOR,
    PROJECTOR_COLORS,
    bins,
    layout,
    message_figure,
    round_layout,
)

if TYPE_CHECKING:
    from tiny_audio.pipeline.result import TranscriptionResult
    from tiny_audio.pipeline.trace import Histogram


def projector_vs_llm(result: TranscriptionResult) -> go.Figure:
    """The projector's output over the LLM's own embedding distribution, both as densities."""
    title = "Does the projector speak the LLM's language?"
    trace = result.trace
    if trace is None or trace.comparison is None or result.native is None:
        return message_figure(title, "No comparison for this run (the trace needs the LLM's embeddings).")
    comparison, native = trace.comparison, result.native.stats
    hist = comparison.histogram
    lo, width, n = bins(native.histogram)
    native_density = np.asarray(native.histogram.counts, dtype=np.float64) / (native.numel * width)
    # The projector's density is over *all* its values: what lies outside the LLM's range is
    # missing from the curve and reported beside it, not renormalised away.
    total = sum(hist.counts) + hist.below + hist.above
    projected_density = np.asarray(hist.counts, dtype=np.float64) / (max(total, 1) * width)
    output = next((s for s in trace.stages if result.role(s.name) == PROJECTOR_OUTPUT), None)
    output_name = output.name if output else "projector output"
    output_shape = shape_text(output.shape) if output else ""

    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x0=lo + width / 2,
            dx=width,
            y=native_density.astype(np.float32),
            marker=dict(color=NATIVE_COLOR, opacity=0.45, line=dict(width=0)),
            name=f"LLM token embeddings {shape_text(native.shape)}",
            hovertemplate="%{x:.3g}: density %{y:.3g}<extra>LLM</extra>",
        )
    )
    # A step outline (one extra point closes the last bin) keeps both shapes visible.
    fig.add_trace(
        go.Scatter(
            x0=lo,
            dx=width,
            y=np.append(projected_density, projected_density[-1]).astype(np.float32),
            mode="lines",
            line=dict(shape="hv", color=PROJECTOR_COLORS[1], width=2),
            fill="tozeroy",
            fillcolor="rgba(33, 113, 181, 0.15)",
            name=f"projector output ({output_name}) {output_shape}",
            hovertemplate="%{x:.3g}: density %{y:.3g}<extra>projector</extra>",
        )
    )
    # Where the missing mass went, at the edge it fell off.
    hi = lo + width * n
    edge_note = dict(xref="paper", yref="paper", showarrow=False, font=dict(color=PROJECTOR_COLORS[1]))
    if hist.below:
        text = f"◀ {100 * hist.below / total:.1f}% below {short(lo)}"
        fig.add_annotation(text=text, x=0, y=0.6, xanchor="left", **edge_note)
    if hist.above:
        text = f"{100 * hist.above / total:.1f}% above {short(hi)} ▶"
        fig.add_annotation(text=text, x=1, y=0.4, xanchor="right", **edge_note)
    subtitle = (
        f"{100 * comparison.outside_fraction:.1f}% of projector values fall outside the LLM's range "
        f"[{short(lo)}, {short(hi)}]<br>the x axis spans the middle 99.8% of both"
    )
    fig.update_layout(
        **layout(title, 400, subtitle=subtitle, bargap=0, showlegend=True),
        legend=dict(orientation="h", x=0, y=0, xanchor="left", yanchor="bottom", yref="container"),
    )
    fig.update_layout(margin=dict(b=110))  # the legend sits under the axis
    # The axis spans where both densities hold their mass, not the embeddings' rare extremes.
    fig.update_xaxes(title="value", range=mass_range(native.histogram, hist))
    fig.update_yaxes(title="density", rangemode="tozero")
    return fig


def mass_range(*histograms: Histogram, share: float = 0.998) -> list[float]:
    """The x range holding the central ``share`` of every histogram's in-range values (all on
    the same edges), a bin's margin either side."""
    edges = histograms[0].edges
    lo, hi = len(edges) - 2, 0
    for histogram in histograms:
        cumulative = np.cumsum(histogram.counts) / max(sum(histogram.counts), 1)
        lo = min(lo, int(np.searchsorted(cumulative, (1 - share) / 2)))
        hi = max(hi, int(np.searchsorted(cumulative, 1 - (1 - share) / 2)))
    lo, hi = max(lo - 1, 0), min(hi + 2, len(edges) - 1)
    return [round_layout(edges[lo]), round_layout(edges[hi])]


def frame_norms(result: TranscriptionResult) -> go.Figure:
    """L2 norm of each projected audio frame against time, beside a typical embedding row's."""
    title = "How large is each audio token?"
    trace = result.trace
    if trace is None or not trace.frame_norms:
        return message_figure(title, "No projected frames in this run.")
    norms = np.asarray(trace.frame_norms, dtype=np.float32)
    seconds_per_frame = result.audio_token_ms / 1000
    typical = result.native.typical_row_norm if result.native is not None else None
    median = float(np.median(norms))
    subtitle = f"{len(norms)} frames of {1000 * seconds_per_frame:.0f} ms · median norm {short(median)}"
    if typical:
        subtitle += f" = {median / typical:.2g}× a typical token embedding's ({short(typical)})"

    fig = go.Figure(
        go.Bar(
            x0=seconds_per_frame / 2,  # frame i covers [i, i + 1) frame lengths of audio
            dx=seconds_per_frame,
            y=norms,
            # Gaps between frames read well for a few seconds; at hundreds of bars they alias.
            width=seconds_per_frame * (0.9 if len(norms) <= 100 else 1.0),
            marker=dict(color=PROJECTOR_COLORS[0], line=dict(width=0)),
            hovertemplate="%{x:.2f} s: norm %{y:.3g}<extra></extra>",
        )
    )
    if typical:
        fig.add_hline(
            y=round_layout(typical), line=dict(color=NATIVE_COLOR, width=2, dash="dash"),
            annotation=dict(
                text=f"typical token embedding norm {short(typical)}", font=dict(color=NATIVE_COLOR),
                yshift=4,
            ),
            annotation_position="top left",
        )
    fig.update_layout(**layout(title, 300, subtitle=subtitle, bargap=0))
    fig.update_xaxes(title="time (s)", range=[0, round_layout(result.duration_s)])
    fig.update_yaxes(title="L2 norm", rangemode="tozero")
    return fig


def top_share(variances: Iterable[float], k: int = 100) -> float:
    """Share of the total variance held by the ``k`` largest variances (NaN when all are 0)."""
    values = np.sort(np.asarray(list(variances), dtype=np.float64))[::-1]
    total = values.sum()
    return float(values[:k].sum() / total) if total > 0 else math.nan


def dimension_variance(result: TranscriptionResult, k: int = 100) -> go.Figure:
    """Per-dimension variance of the projector output, largest first, on a log scale."""
    title = "Which output dimensions carry the signal?"
    trace = result.trace
    if trace is None or not trace.dim_variance:
        return message_figure(title, "No projector output in this run.")
    variances = np.asarray(trace.dim_variance, dtype=np.float32)
    share = top_share(trace.dim_variance, k)
    dims = len(variances)
    if dims > k:
        subtitle = (
            f"the top {k} of {dims} dimensions hold {100 * share:.0f}% of the total variance "
            f"({100 * k / dims:.0f}% if all were equal)"
        )
    else:
        subtitle = f"all {dims} dimensions shown"
    fig = go.Figure(
        go.Scatter(
            x0=1, dx=1, y=variances, mode="lines", line=dict(color=PROJECTOR_COLORS[1], width=2),
            hovertemplate="dimension #%{x}: variance %{y:.3g}<extra></extra>",
        )
    )
    if dims > k:
        fig.add_vline(
            x=k, line=dict(color="#888", width=1, dash="dot"),
            annotation=dict(text=f"top {k}", font=dict(color="#555")), annotation_position="top right",
        )
    fig.update_layout(**layout(title, 300, subtitle=subtitle))
    fig.update_xaxes(title="dimension rank (sorted by variance)", range=[0, dims + 1])
    fig.update_yaxes(title="variance across frames", type="log", exponentformat="power", nticks=4)
    return fig
