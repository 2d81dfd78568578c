"""What the figures cost the browser."""

from __future__ import annotations

from typing import Iterable

import plotly.graph_objects as go


def figure_payload_bytes(figures: Iterable[go.Figure]) -> int:
    """Bytes the browser receives for these figures (Gradio's gr.Plot sends ``fig.to_json()``)."""
    return sum(len(fig.to_json().encode("utf-8")) for fig in figures)
