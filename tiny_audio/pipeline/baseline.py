"""The verdict's baseline: the same clip's encoder frames through the model's trained projector
and through an untrained one of the same shape, each compared with the LLM's own embeddings.

Only the projector runs twice (no decoding), so the baseline costs two projector passes (and an
encoder pass when the transcribing run's frames are not at hand). The untrained projector is
seeded: the same weights on every call.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import nn

from tiny_audio.pipeline.projector import RMSNorm
from tiny_audio.pipeline.trace import Comparison, Tracer

BASELINE_SEED = 0
_untrained: "weakref.WeakKeyDictionary[nn.Module, nn.Module]" = weakref.WeakKeyDictionary()


@dataclass
class DimensionStats:
    """Each output dimension's mean and spread (σ) over a set of vectors (frames or embedding rows)."""

    mean: list[float]
    std: list[float]


@dataclass
class Side:
    """One projector's output on the clip, against the LLM's embeddings."""

    comparison: Comparison
    dims: DimensionStats
    agreement: float  # share of dimensions whose mean and σ both sit where the embeddings' do


@dataclass
class Baseline:
    trained: Side
    untrained: Side
    embeddings: DimensionStats
    seed: int = BASELINE_SEED


def untrained_like(projector: nn.Module, seed: int = BASELINE_SEED) -> nn.Module:
    """A projector of the same class and shapes with fresh weights, as training would start from:
    linear weights N(0, 0.02), zero biases, RMSNorm weights 1, convolutions PyTorch's default."""
    fresh = copy.deepcopy(projector)
    with torch.random.fork_rng(devices=[]), torch.no_grad():  # seeded without touching the caller's RNG
        torch.manual_seed(seed)
        for module in fresh.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)
            elif isinstance(module, nn.Conv1d):
                module.reset_parameters()
    return fresh.eval()


def dimension_stats(vectors: torch.Tensor) -> DimensionStats:
    flat = vectors.float().reshape(-1, vectors.shape[-1])
    return DimensionStats(flat.mean(dim=0).tolist(), flat.std(dim=0, unbiased=False).tolist())


def agreement(output: DimensionStats, embeddings: DimensionStats) -> float:
    """Share of dimensions where the output's mean lies within one embedding σ of the embeddings'
    mean and its σ within a factor of 2 of theirs: the dimension carries values the LLM knows."""
    mean, std = np.asarray(output.mean), np.asarray(output.std)
    ref_mean, ref_std = np.asarray(embeddings.mean), np.asarray(embeddings.std)
    close = (np.abs(mean - ref_mean) <= ref_std) & (std >= ref_std / 2) & (std <= ref_std * 2)
    return float(close.mean()) if close.size else float("nan")


@torch.inference_mode()
def projector_baseline(model, samples: np.ndarray, seed: int = BASELINE_SEED,
                       frames: Optional[torch.Tensor] = None) -> Baseline:
    """The clip (16 kHz mono) through ``model``'s projector and an untrained one of its shape.
    ``frames``: the clip's encoder frames when the run that transcribed it kept them (no second
    encoder pass)."""
    if model.projector not in _untrained:  # made once per loaded projector
        _untrained[model.projector] = untrained_like(model.projector, seed)
    weights = model.decoder.get_input_embeddings().weight
    embeddings = dimension_stats(weights)
    frames = model.encode(samples) if frames is None else frames
    output_stage = model.projector.stages[-1]
    sides = []
    for projector in (model.projector, _untrained[model.projector]):
        tracer = Tracer(bins=model.bins)
        out = projector(frames, record=tracer)
        trace = tracer.finalize(model.native, output_stage=output_stage)
        dims = dimension_stats(out)
        sides.append(Side(trace.comparison, dims, agreement(dims, embeddings)))
    return Baseline(sides[0], sides[1], embeddings, seed)
