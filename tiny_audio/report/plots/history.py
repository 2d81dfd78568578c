"""Figures of the training history: the loss curves with the shown step marked, and the
pipeline's scale story (RMS, spread and largest value at every stage) against the LLM's own
embeddings — the numbers that training moves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from tiny_audio.pipeline.stages import GENERATED
from tiny_audio.report.plots.style import ENCODER_COLOR, NATIVE_COLOR, PROJECTOR_COLORS, layout, message_figure, round_layout

if TYPE_CHECKING:
    from tiny_audio.pipeline.history import History, Snapshot
    from tiny_audio.pipeline.result import TranscriptionResult


def stage_offsets(history: History) -> dict[tuple[str, str], int]:
    """Where each (run, stage) starts on one step axis through the whole history."""
    offsets, total = {}, 0
    for curve in history.losses:
        offsets[(curve.run, curve.stage)] = total
        total += max(curve.steps + curve.val_steps, default=0)
    return offsets


def overall_step(history: History, snapshot: Snapshot) -> int:
    """The snapshot's place on the history's step axis (the exported weights sit at their step)."""
    offsets = stage_offsets(history)
    if snapshot.stage == "init":
        return 0
    stage = snapshot.stage
    if stage == "export":  # the last stage its run trained
        stage = next((c.stage for c in reversed(history.losses) if c.run == snapshot.run), "lm")
    return offsets.get((snapshot.run, stage), 0) + snapshot.step


def loss_figure(history: History, current: Snapshot) -> go.Figure:
    title = "Loss while training"
    if not history.losses:
        return message_figure(title, "This history carries no loss log.")
    offsets = stage_offsets(history)
    fig = go.Figure()
    for curve in history.losses:
        start = offsets[(curve.run, curve.stage)]
        name = f"{curve.run} {curve.stage}"
        fig.add_trace(go.Scatter(x=np.asarray(curve.steps) + start, y=np.asarray(curve.loss, dtype=np.float32),
                                 mode="lines", name=f"{name}: training", line=dict(width=1.5)))
        if curve.val_steps:
            fig.add_trace(go.Scatter(x=np.asarray(curve.val_steps) + start, y=np.asarray(curve.val_loss, dtype=np.float32),
                                     mode="markers+lines", name=f"{name}: validation", line=dict(dash="dot")))
    fig.add_vline(x=overall_step(history, current), line=dict(color="#d62728", width=2, dash="solid"),
                  annotation=dict(text=current.label, font=dict(color="#d62728")), annotation_position="top right")
    fig.update_layout(**layout(title, 300, subtitle="one step axis through every stage of every run · red: the step shown",
                               showlegend=True),
                      legend=dict(orientation="h", y=-0.4, x=0))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="loss", type="log")
    return fig


def stage_story(result: TranscriptionResult, title: str = "The scale at each stage") -> go.Figure:
    """RMS, spread (σ) and largest |value| of every traced stage on one log axis, with the LLM's
    own embeddings as the band the projector's output should land in."""
    stages = [s for s in result.stages if result.role(s.name) != GENERATED]
    if not stages:
        return message_figure(title, "No trace for this run.")
    names = [s.name for s in stages]
    series = {"RMS": [s.rms for s in stages], "σ (spread)": [s.std for s in stages],
              "max |x|": [max(abs(s.min), abs(s.max)) for s in stages]}
    colors = {"RMS": PROJECTOR_COLORS[1], "σ (spread)": PROJECTOR_COLORS[0], "max |x|": ENCODER_COLOR}
    fig = go.Figure()
    for label, values in series.items():
        fig.add_trace(go.Scatter(x=names, y=np.asarray(values, dtype=np.float32), mode="lines+markers", name=label,
                                 line=dict(color=colors[label]), hovertemplate="%{x}: %{y:.3g}<extra>" + label + "</extra>"))
    subtitle = "log scale · the encoder's scale, reset by RMSNorm, grown by the SwiGLU, set by the last RMSNorm"
    if result.native is not None:
        native = result.native.stats
        fig.add_hrect(y0=round_layout(native.std), y1=round_layout(max(abs(native.min), abs(native.max))),
                      fillcolor=NATIVE_COLOR, opacity=0.12, line_width=0)
        fig.add_hline(y=round_layout(native.rms), line=dict(color=NATIVE_COLOR, width=2, dash="dash"),
                      annotation=dict(text=f"LLM embeddings: RMS {native.rms:.3g} (band: σ to max |x|)",
                                      font=dict(color=NATIVE_COLOR)), annotation_position="bottom left")
    fig.update_layout(**layout(title, 320, subtitle=subtitle, showlegend=True),
                      legend=dict(orientation="h", y=-0.3, x=0))
    fig.update_yaxes(type="log", title="value scale")
    fig.update_xaxes(tickangle=-30)
    return fig
