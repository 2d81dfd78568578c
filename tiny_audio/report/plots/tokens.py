"""The nearest-token strip: under the clip's waveform, the vocabulary tokens each projected
frame points at, and the helpers that turn vocabulary pieces into readable labels."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tiny_audio.pipeline.audio import SAMPLE_RATE
from tiny_audio.report.plots.style import layout, message_figure, round_layout

if TYPE_CHECKING:
    from tiny_audio.pipeline.result import TranscriptionResult

__all__ = [
    "ENVELOPE_MAX_POINTS", "STRIP_TOKEN_CHARS", "STRIP_VISIBLE_FRAMES", "nearest_tokens", "readable_token",
    "waveform_envelope",
]

# The strip shows this many frames at first (~55 px each at a typical width, enough for a
# token); longer clips scroll sideways.
STRIP_VISIBLE_FRAMES = 12
STRIP_TOKEN_CHARS = 10
STRIP_VISIBLE_FRAMES_COMPACT = 4  # a phone's width: ~75 px a frame
STRIP_TOKEN_CHARS_COMPACT = 7
ENVELOPE_MAX_POINTS = 2000


def readable_token(text: str, limit: int = STRIP_TOKEN_CHARS) -> str:
    """A token's text made visible and safe for Plotly's HTML-ish labels."""
    visible = text.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥").replace("\r", "↵")
    # Other control and invisible characters are shown as their escapes (\x00, \u200b).
    visible = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in visible) or "∅"
    if len(visible) > limit:
        visible = visible[: limit - 1] + "…"
    return visible.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def waveform_envelope(samples: np.ndarray, rate: int = SAMPLE_RATE, max_points: int = ENVELOPE_MAX_POINTS):
    """(seconds per column, per-column min, per-column max) over columns of ~10 ms, fewer for
    long clips so that min and max together stay within ``max_points``."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    column = max(rate // 100, math.ceil(2 * samples.size / max_points))
    columns = max(1, samples.size // column)
    body = samples[: columns * column].reshape(columns, column) if samples.size >= column else samples.reshape(1, -1)
    return body.shape[1] / rate, body.min(axis=1), body.max(axis=1)


def nearest_tokens(result: TranscriptionResult, waveform: Optional[np.ndarray] = None, compact: bool = False) -> go.Figure:
    """The time-aligned strip: the clip's waveform (16 kHz samples, optional) above, and under
    each projected frame the vocabulary tokens whose embeddings point the most the same way
    (colour = cosine). ``compact``: fewer frames at first and shorter labels, for a phone."""
    title = "What does each audio token look like to the LLM?"
    trace = result.trace
    if trace is None or not trace.nearest_tokens:
        return message_figure(title, "No nearest tokens in this run.")
    frames = trace.nearest_tokens
    depth = max(len(row) for row in frames)
    limit = STRIP_TOKEN_CHARS_COMPACT if compact else STRIP_TOKEN_CHARS
    texts = {token_id: readable_token(text, limit) for token_id, text in result.token_texts.items()}
    # Row r holds every frame's r-th nearest token.
    cosine = np.full((depth, len(frames)), np.nan, dtype=np.float32)
    labels = [[""] * len(frames) for _ in range(depth)]
    for f, row in enumerate(frames):
        for r, (token_id, sim) in enumerate(row):
            cosine[r, f] = sim
            labels[r][f] = texts[token_id]
    seconds_per_frame = result.audio_token_ms / 1000  # k encoder frames each, the last partly padding

    has_wave = waveform is not None and np.asarray(waveform).size > 0
    if has_wave:
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.3, 0.7], vertical_spacing=0.04)
    else:
        fig = go.Figure()
    grid = dict(row=2, col=1) if has_wave else {}
    if has_wave:
        _draw_envelope(fig, waveform)
    fig.add_trace(
        go.Heatmap(
            z=cosine,
            # Cells are centred on the frames' midpoints, so each spans [start, end) of its frame.
            x0=seconds_per_frame / 2,
            dx=seconds_per_frame,
            y=[f"#{r + 1}" for r in range(depth)],
            text=labels,
            texttemplate="%{text}",
            textfont=dict(size=10),
            # The scale ends just above the clip's best match: audio tokens rarely pass cosine 0.5,
            # and on a 0–1 scale every cell would look the same pale blue.
            zmin=0,
            zmax=round_layout(max(0.2, math.ceil(10 * float(np.nanmax(cosine))) / 10)),
            colorscale=[[0, "#ffffff"], [0.5, "#9ecae1"], [1, "#08519c"]],
            colorbar=dict(
                title=dict(text="cosine", side="right"), thickness=10, len=0.7 if has_wave else 1, y=0, yanchor="bottom"
            ),
            xgap=1,
            ygap=1,
            hovertemplate="%{x:.2f} s · %{y}: %{text}<br>cosine %{z:.3f}<extra></extra>",
        ),
        **grid,
    )
    shown = STRIP_VISIBLE_FRAMES_COMPACT if compact else STRIP_VISIBLE_FRAMES
    visible = min(len(frames), shown) * seconds_per_frame
    subtitle = (f"{depth} nearest vocabulary tokens per {1000 * seconds_per_frame:.0f} ms frame, by cosine similarity"
                "<br>␣ marks a space in a token")
    if len(frames) > shown:
        subtitle += (f" · showing {visible:.1f} s of {result.duration_s:.1f} s: "
                     f"drag sideways to scroll ▶")
    fig.update_layout(**layout(title, 350 if has_wave else 260, subtitle=subtitle, dragmode="pan"))
    fig.update_xaxes(range=[0, round_layout(visible)])
    fig.update_xaxes(title="time (s)", **grid)
    fig.update_yaxes(autorange="reversed", showgrid=False, fixedrange=True, **grid)
    fig.update_yaxes(fixedrange=True)
    return fig


def _draw_envelope(fig: go.Figure, waveform: np.ndarray) -> None:
    """The clip's min/max envelope in the strip's top row."""
    step, low, high = waveform_envelope(waveform)
    # The envelope is scaled to the clip's peak and sent as int8: a display needs no more, and
    # clips quieter than -40 dBFS stay visibly quiet instead of being blown up.
    scale = 127 / max(float(np.abs(waveform).max()), 0.01)
    for values, fill in ((high, None), (low, "tonexty")):
        fig.add_trace(
            go.Scatter(
                x0=step / 2, dx=step, y=np.clip(np.round(values * scale), -127, 127).astype(np.int8),
                mode="lines", line=dict(color="#777", width=0.5), fill=fill, fillcolor="rgba(120,120,120,0.5)",
                hoverinfo="skip",
            ),
            row=1, col=1,
        )
    fig.update_yaxes(
        range=[-128, 128], showticklabels=False, showgrid=False, showline=False, ticks="", title="audio",
        row=1, col=1,
    )
    fig.update_xaxes(showline=False, ticks="", row=1, col=1)
