"""Tiny random models traced end to end, and helpers for reading the figures drawn from them."""

import re

import numpy as np
import torch
from tiny_models import speechlike, tiny_llama, tiny_tokenizer, tiny_whisper

from tiny_audio.pipeline.encoders import encoder_from_model
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.pipeline.projector import AudioProjector
from tiny_audio.report import plots

PAYLOAD_LIMIT = 60_000  # bytes for one full update: the five figures

__all__ = [
    "PAYLOAD_LIMIT", "all_figures", "bar_centres", "bars", "build", "centres_of", "panel_axes", "speechlike",
    "tiny_tokenizer", "title_number", "traced_result",
]


def build(tokenizer, llm_dim=48):
    torch.manual_seed(3)
    return AudioLLM(
        encoder_from_model(tiny_whisper()),
        AudioProjector(32, llm_dim, k=5, hidden_dim=64),
        tiny_llama(len(tokenizer), hidden=llm_dim),
        tokenizer,
        name="tiny",
    )


def traced_result(tokenizer):
    """A 2 s clip through the tiny model, traced."""
    return build(tokenizer).transcribe((speechlike(2.0), 16_000), max_new_tokens=5)


def all_figures(result, tokenizer, waveform):
    return {
        "stage_histograms": plots.stage_histograms(result),
        "projector_vs_llm": plots.projector_vs_llm(result),
        "frame_norms": plots.frame_norms(result),
        "dimension_variance": plots.dimension_variance(result),
        "nearest_tokens": plots.nearest_tokens(result, waveform),
    }


def panel_axes(fig, trace):
    """The layout objects of the x and y axes a trace is drawn on."""
    x, y = trace.xaxis or "x", trace.yaxis or "y"
    return fig.layout["xaxis" + x[1:]], fig.layout["yaxis" + y[1:]]


def bars(fig):
    return [t for t in fig.data if t.type == "bar"]


def bar_centres(trace, n):
    return trace.x0 + trace.dx * np.arange(n)


def centres_of(edges):
    edges = np.asarray(edges)
    return (edges[:-1] + edges[1:]) / 2


def title_number(text, symbol):
    return float(re.search(symbol + r"=([-+0-9.e]+)", text).group(1))
