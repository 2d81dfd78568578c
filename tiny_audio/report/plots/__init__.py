"""Plotly figures built from a ``TranscriptionResult``'s trace, one module per family of figures.

Everything here reads only the small, pre-binned results the trace carries (bin counts, edges,
a few scalars, one short vector per frame or dimension), never raw activations, so one full
update stays a few tens of kilobytes in the browser.

Payload habits (``fig.to_json()`` is what Gradio's ``gr.Plot`` sends):
- data go in NumPy arrays, which Plotly ships as base64 typed arrays (4 bytes per float32
  instead of ~18 characters of decimal text); integer counts shrink to the smallest int type;
- evenly spaced x values are given as ``x0``/``dx`` instead of an array;
- a few lines of template (``style.TEMPLATE``) instead of Plotly's default one, which alone
  adds ~6 KB per figure.

The app and live mode's HTML page import this package; the pipeline never does.
"""

from tiny_audio.report.numbers import shape_text
from tiny_audio.report.plots.comparison import dimension_variance, frame_norms, projector_vs_llm, top_share
from tiny_audio.report.plots.explorers import activation_histograms, stage_grid_figure
from tiny_audio.report.plots.payload import figure_payload_bytes
from tiny_audio.report.plots.stages import Panel, histogram_grid, stage_histograms
from tiny_audio.report.plots.story import stage_story
from tiny_audio.report.plots.style import message_figure
from tiny_audio.report.plots.tokens import (
    ENVELOPE_MAX_POINTS,
    nearest_tokens,
    readable_token,
    waveform_envelope,
)
from tiny_audio.report.plots.verdict import dimension_agreement

__all__ = [
    "ENVELOPE_MAX_POINTS",
    "Panel",
    "activation_histograms",
    "dimension_agreement",
    "dimension_variance",
    "figure_payload_bytes",
    "frame_norms",
    "histogram_grid",
    "message_figure",
    "nearest_tokens",
    "projector_vs_llm",
    "readable_token",
    "shape_text",
    "stage_grid_figure",
    "stage_histograms",
    "stage_story",
    "top_share",
    "waveform_envelope",
]
