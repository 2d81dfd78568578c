"""Figures of the training history: the loss curves with the shown step marked (the scale at
every stage is ``story.stage_story``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from tiny_audio.report.plots.style import layout, message_figure

if TYPE_CHECKING:
    from tiny_audio.pipeline.history import History, Snapshot


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
