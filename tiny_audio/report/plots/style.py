"""The look every figure shares: a small template, the pipeline's colours, title layout, and
the helpers that place pre-binned histograms on an axis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import plotly.graph_objects as go

from tiny_audio.pipeline.stages import ENCODER, GENERATED, LLM

if TYPE_CHECKING:
    from tiny_audio.pipeline.trace import Histogram

# Encoder orange, projector blues (light → dark along the pipeline), LLM greens. The darkest blue
# stays light enough to read on the dark theme's near-black background (navy did not).
ENCODER_COLOR = "#e6550d"
PROJECTOR_COLORS = ("#6baed6", "#2171b5")
GENERATED_COLOR = "#41ab5d"
NATIVE_COLOR = "#1b7837"

FONT = dict(family="Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12, color="#222")
_AXIS = dict(showline=True, linecolor="#999", ticks="outside", tickcolor="#999", zeroline=False)

# A few lines of styling instead of Plotly's default template (~6 KB per figure). Axis styles in
# a template apply to every subplot's axes, so a 12-panel grid carries them once.
TEMPLATE = go.layout.Template(
    layout=dict(
        font=FONT,
        # Transparent: the page's own background shows, light or dark (its CSS recolours the text).
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        xaxis=_AXIS,
        yaxis=_AXIS,
        shapedefaults=dict(line=dict(color="#333", width=1, dash="dash")),
    )
)


# Plotly never wraps text: titles and subtitles are broken into lines a phone's width can hold.
TITLE_CHARS = 40
SUBTITLE_CHARS = 52
LINE_PX = 16


def wrap(text: str, width: int) -> str:
    """``text`` with <br> between words so that no line is longer than ``width`` characters."""
    lines = []
    for given in text.split("<br>"):
        line = ""
        for word in given.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "<br>".join(lines)


def layout(title: str, height: int, subtitle: Optional[str] = None, top: int = 0, **extra) -> dict:
    """Title (+ subtitle) pinned to the top left, wrapped to a phone's width; ``top`` reserves
    extra room under them."""
    title, subtitle = wrap(title, TITLE_CHARS), wrap(subtitle, SUBTITLE_CHARS) if subtitle else subtitle
    extra_lines = title.count("<br>") + (subtitle.count("<br>") if subtitle else 0)
    title_spec = dict(text=title, x=0.01, xanchor="left", y=1, yanchor="top", yref="container", pad=dict(t=10))
    title_spec["font"] = dict(size=15)
    if subtitle:
        title_spec["subtitle"] = dict(text=subtitle, font=dict(size=12, color="#555"))
    spec = dict(
        template=TEMPLATE,
        height=height + LINE_PX * extra_lines,
        title=title_spec,
        margin=dict(l=60, r=20, t=(68 if subtitle else 48) + top + LINE_PX * extra_lines, b=45),
        showlegend=False,
    )
    spec.update(extra)
    return spec


def message_figure(title: str, message: str, height: int = 200) -> go.Figure:
    """A figure that says why there is nothing to draw."""
    fig = go.Figure(layout=layout(title, height))
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def round_layout(value: float) -> float:
    """Layout numbers (ranges, line positions) need no more than 6 significant digits."""
    return float(f"{value:.6g}")


def blend(start: str, end: str, t: float) -> str:
    a = [int(start[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(end[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def stage_color(role: str, index: int, projector_count: int) -> str:
    """A stage's colour by its role; the ``index``-th of the projector's stages gets its shade of blue."""
    if role == ENCODER:
        return ENCODER_COLOR
    if role == GENERATED:
        return GENERATED_COLOR
    if role == LLM:
        return NATIVE_COLOR
    return blend(*PROJECTOR_COLORS, index / max(projector_count - 1, 1))


def bins(histogram: Histogram) -> tuple[float, float, int]:
    """(left edge, bin width, bin count); a degenerate range gets a visible nominal width."""
    lo, hi, n = histogram.edges[0], histogram.edges[-1], len(histogram.counts)
    width = (hi - lo) / n if hi > lo else max(abs(lo), 1.0) * 0.02
    return lo, width, n


def x_range(histogram: Histogram) -> list[float]:
    lo, width, n = bins(histogram)
    return [round_layout(lo), round_layout(lo + width * n)]
