"""Per-dimension agreement: each output dimension's mean and spread over the clip's frames
against the same dimension's over the LLM's embedding rows, for the trained projector and an
untrained one of the same shape. Points on the diagonal carry values the LLM knows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tiny_audio.report.plots.style import NATIVE_COLOR, PROJECTOR_COLORS, layout, round_layout

if TYPE_CHECKING:
    from tiny_audio.pipeline.baseline import Baseline

UNTRAINED_COLOR = "#999999"


def dimension_agreement(baseline: Baseline) -> go.Figure:
    """Two panels: per-dimension mean, then per-dimension σ, projector (y) against embeddings (x)."""
    title = "Does each dimension carry what the LLM expects?"
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.16,
                        subplot_titles=["mean<br>per dimension", "spread (σ)<br>per dimension"])
    reference = baseline.embeddings
    sides = ((f"untrained projector (seed {baseline.seed})", baseline.untrained, UNTRAINED_COLOR),
             ("trained projector", baseline.trained, PROJECTOR_COLORS[1]))
    for col, field in ((1, "mean"), (2, "std")):
        x = np.asarray(getattr(reference, field), dtype=np.float32)
        values = [x] + [np.asarray(getattr(side.dims, field), dtype=np.float32) for _, side, _ in sides]
        lo = min(float(v.min()) for v in values)
        hi = max(float(v.max()) for v in values)
        for name, side, color in sides:
            fig.add_trace(go.Scatter(
                x=x, y=np.asarray(getattr(side.dims, field), dtype=np.float32), mode="markers", name=name,
                marker=dict(color=color, size=4, opacity=0.6), showlegend=col == 1,
                hovertemplate="embeddings %{x:.3g} · projector %{y:.3g}<extra>" + name + "</extra>"), row=1, col=col)
        # The diagonal: the projector's dimension exactly where the embeddings' is.
        fig.add_trace(go.Scatter(x=[round_layout(lo), round_layout(hi)], y=[round_layout(lo), round_layout(hi)],
                                 mode="lines", line=dict(color=NATIVE_COLOR, dash="dash", width=1.5),
                                 name="same as the embeddings", showlegend=col == 1, hoverinfo="skip"),
                      row=1, col=col)
        fig.update_xaxes(title=dict(text="embeddings", font=dict(size=11)), nticks=4, row=1, col=col)
        fig.update_yaxes(title=dict(text="projector", font=dict(size=11)), nticks=5, row=1, col=col)
    subtitle = "one point per dimension · on the dashed diagonal = the value the LLM knows"
    fig.update_layout(**layout(title, 420, subtitle=subtitle, top=30, showlegend=True),
                      legend=dict(orientation="h", y=0, yanchor="bottom", yref="container", x=0, font=dict(size=11)))
    fig.update_layout(margin=dict(b=110))
    fig.update_annotations(font=dict(size=12))
    return fig
