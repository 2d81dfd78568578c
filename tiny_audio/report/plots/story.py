"""The pipeline's story in one picture: the scale of the values at every stage (RMS, spread σ,
largest |value|) on one log axis, with the band of the LLM's own embeddings that the
projector's output should land in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from tiny_audio.pipeline.stages import GENERATED
from tiny_audio.report.plots.style import (
    ENCODER_COLOR,
    NATIVE_COLOR,
    PROJECTOR_COLORS,
    layout,
    message_figure,
    round_layout,
)

if TYPE_CHECKING:
    from tiny_audio.pipeline.result import TranscriptionResult

SERIES_COLORS = {"RMS": PROJECTOR_COLORS[1], "σ (spread)": PROJECTOR_COLORS[0], "max |x|": ENCODER_COLOR}


def stage_story(result: TranscriptionResult, title: str = "The scale at each stage") -> go.Figure:
    """RMS, spread (σ) and largest |value| of every traced stage on one log axis, with the LLM's
    own embeddings as the band the projector's output should land in."""
    stages = [s for s in result.stages if result.role(s.name) != GENERATED]
    if not stages:
        return message_figure(title, "No trace for this run.")
    names = [s.name for s in stages]
    series = {"RMS": [s.rms for s in stages], "σ (spread)": [s.std for s in stages],
              "max |x|": [max(abs(s.min), abs(s.max)) for s in stages]}
    fig = go.Figure()
    for label, values in series.items():
        fig.add_trace(go.Scatter(x=names, y=np.asarray(values, dtype=np.float32), mode="lines+markers", name=label,
                                 line=dict(color=SERIES_COLORS[label]),
                                 hovertemplate="%{x}: %{y:.3g}<extra>" + label + "</extra>"))
    subtitle = "log scale · pipeline order · the last stage should land in the green"
    if result.native is not None:
        native = result.native.stats
        fig.add_hrect(y0=round_layout(native.std), y1=round_layout(max(abs(native.min), abs(native.max))),
                      fillcolor=NATIVE_COLOR, opacity=0.12, line_width=0)
        fig.add_hline(y=round_layout(native.rms), line=dict(color=NATIVE_COLOR, width=2, dash="dash"))
        # The band's key is in the subtitle, not on the plot, so it never covers a point.
        subtitle += f"<br>green: the LLM's embeddings (dashed: RMS {native.rms:.3g}, band: σ to max |x|)"
    fig.update_layout(**layout(title, 380, subtitle=subtitle, showlegend=True),
                      legend=dict(orientation="h", y=0, yanchor="bottom", yref="container", x=0, font=dict(size=11)))
    # Room under the plot for the vertical stage names and a legend of up to three rows.
    fig.update_layout(margin=dict(b=175))
    fig.update_yaxes(type="log", title="value scale", exponentformat="power", dtick=1)
    # Upright labels would collide on a phone; vertical ones never do.
    fig.update_xaxes(tickangle=-90, automargin=False)
    return fig
