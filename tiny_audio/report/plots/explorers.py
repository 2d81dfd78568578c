"""Figures for the explore tab: activation functions on a clip's gate, and the course's stage grid."""

from __future__ import annotations

import plotly.graph_objects as go

from tiny_audio.report.numbers import shape_text, short
from tiny_audio.report.plots.stages import Panel, histogram_grid
from tiny_audio.report.plots.style import NATIVE_COLOR, PROJECTOR_COLORS, blend

ACTIVATION_COLORS = {"ReLU": "#e6550d", "GELU": "#756bb1", "SiLU/Swish": "#3182bd", "Tanh": "#31a354"}


def activation_histograms(report) -> go.Figure:
    """The activations on the clip's real gate pre-activations, then the GLU family built from
    the projector's own gate/up weights (an ``explore.activations.ActivationReport``)."""
    rows = [r for r in report.plain if r.data == "clip"] + list(report.glu)
    panels = [
        Panel(
            f"{r.name} ({r.data})",
            f"<b>{r.name}</b> {r.data}<br>zeros {r.sparsity:.0%} · σ={short(r.std)} · |∂|={short(r.grad_mean_abs)}",
            r.histogram,
            r.mean,
            ACTIVATION_COLORS.get(r.name, PROJECTOR_COLORS[1]),
        )
        for r in rows
    ]
    subtitle = f"gate pre-activations of this clip: {shape_text(report.gate_shape)}, σ={short(report.gate_std)}"
    if not report.projector_trained:
        subtitle += " · untrained projector: its gate is random too"
    return histogram_grid("Activations on this clip", panels, cols=4, subtitle=subtitle)


def stage_grid_figure(panels) -> go.Figure:
    """The course's 2×3 grid (stacked, pre-norm, SwiGLU, down, final, target LLM), from
    ``explore.grid.grid_panels``; hover it and use the camera icon to save a PNG."""
    colors = [blend(*PROJECTOR_COLORS, i / 4) for i in range(5)] + [NATIVE_COLOR]
    grid = [Panel(p.stage, p.title, p.histogram, p.mean, colors[min(i, 5)]) for i, p in enumerate(panels)]
    return histogram_grid("Stage by stage", grid, cols=3, subtitle="the course's Exercise 2 grid")
