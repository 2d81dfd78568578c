"""Exercise 1, Experiment 2: activation functions on a clip's real gate pre-activations.

``gate_input`` runs the encoder and the SwiGLU projector once and keeps the gate's inputs;
``activation_study`` applies ReLU, GELU, SiLU and Tanh to them (random normal data only as a
contrast); ``glu_study`` builds the GLU family from the projector's own gate/up weights. Gradient
flow comes from autograd; ``ACTIVATION_NOTES`` says what each number means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tiny_audio.pipeline.audio import SAMPLE_RATE, load_audio
from tiny_audio.pipeline.trace import Histogram, summarize_tensor

# The SwiGLU projector's stages the study keeps, as it records them (see stages.SWIGLU_STAGES):
# the normalised input, then gate_proj and up_proj of it.
PRENORM, GATE, UP = "pre-norm", "gate", "up"

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "ReLU": F.relu,
    "GELU": F.gelu,  # exact (erf) form, as the projectors use
    "SiLU/Swish": F.silu,
    "Tanh": torch.tanh,
}
# GLU family: out = act(gate) · up, with the gate activation named here.
GLU_VARIANTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "GLU": torch.sigmoid,
    "ReGLU": F.relu,
    "GeGLU": F.gelu,
    "SwiGLU": F.silu,
}
ACTIVATION_NOTES = {
    "sparsity": "fraction of outputs exactly 0.0",
    "std": "population standard deviation (ddof 0)",
    "range": "max − min of the outputs",
    "random normal": "N(0, σ²) data of the gate pre-activations' shape, σ = their std; seeded",
    "grad (plain)": "mean |f'(x)| over the inputs, by autograd (backward of f(x).sum(); f acts elementwise)",
    "grad (GLU)": (
        "mean |∂L/∂x| over the projector's pre-norm input x, by autograd, where "
        "L = Σ R ⊙ act(gate_proj(x)) ⊙ up_proj(x) and R is a fixed standard-normal tensor (seeded, the same "
        "for every variant) standing in for the gradient from the next layer; a plain out.sum() would let "
        "the up projection's signs cancel"
    ),
}


@dataclass
class GateInput:
    """The projector's gate/up inputs for one clip, from one encoder + projector pass."""

    prenorm: torch.Tensor  # [1, T/k, k·D_enc]: the RMSNorm output, input of gate_proj and up_proj
    gate: torch.Tensor  # gate_proj(prenorm): the gate pre-activations
    up: torch.Tensor  # up_proj(prenorm)
    encoder_frames: int
    duration_s: float


def gate_input(model, samples) -> GateInput:
    """Run ``model``'s encoder and SwiGLU projector once on ``samples`` (16 kHz mono samples, a
    file path or a ``(samples, rate)`` pair) and keep the gate/up inputs and outputs."""
    projector = model.projector
    if not hasattr(projector, "gate_proj"):
        raise ValueError(f"the activation study needs a SwiGLU projector; this model has {type(projector).__name__}")
    if isinstance(samples, np.ndarray):
        samples = load_audio((samples, SAMPLE_RATE), max_seconds=model.max_seconds)
    else:
        samples = load_audio(samples, max_seconds=model.max_seconds)
    kept: dict[str, torch.Tensor] = {}

    def keep(name: str, tensor: torch.Tensor) -> None:
        if name in (PRENORM, GATE, UP):
            kept[name] = tensor.detach()

    # no_grad, not inference_mode: the tensors feed autograd in the gradient-flow study.
    with torch.no_grad():
        frames = model.encoder.encode(model.encoder.features(samples), samples.size)
        projector(frames, record=keep)
    return GateInput(kept[PRENORM], kept[GATE], kept[UP], frames.shape[1], samples.size / SAMPLE_RATE)


@dataclass
class ActivationRow:
    name: str  # "ReLU", … or "GLU", "ReGLU", "GeGLU", "SwiGLU"
    data: str  # "clip", "random normal" or "clip (GLU)"
    shape: tuple[int, ...]
    sparsity: float
    range: float
    mean: float
    std: float
    min: float
    max: float
    grad_mean_abs: float  # see ACTIVATION_NOTES
    histogram: Histogram  # over the row's own [min, max]


def _row(name: str, data: str, out: torch.Tensor, grad_mean_abs: float, bins: int) -> ActivationRow:
    stats = summarize_tensor(name, out, bins)
    return ActivationRow(
        name=name,
        data=data,
        shape=stats.shape,
        sparsity=stats.zero_fraction,
        range=stats.max - stats.min,
        mean=stats.mean,
        std=stats.std,
        min=stats.min,
        max=stats.max,
        grad_mean_abs=grad_mean_abs,
        histogram=stats.histogram,
    )


def _normal(shape, seed: int, std: float = 1.0, device=None) -> torch.Tensor:
    # Drawn on the CPU so the numbers do not depend on the device.
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(tuple(shape), generator=generator) * std).to(device)


def activation_study(gate_preactivations: torch.Tensor, bins: int = 100, seed: int = 0) -> list[ActivationRow]:
    """ReLU, GELU, SiLU and Tanh on the real gate pre-activations, then on random normal data of
    the same shape and std: output statistics, histogram and mean |f'(x)|."""
    x = gate_preactivations.detach().float()
    noise = _normal(x.shape, seed, float(x.std(correction=0)), x.device)
    rows = []
    for data, source in (("clip", x), ("random normal", noise)):
        for name, act in ACTIVATIONS.items():
            # Outside any caller's inference mode, so autograd can record.
            with torch.inference_mode(False), torch.enable_grad():
                leaf = source.clone().requires_grad_(True)
                out = act(leaf)
                out.sum().backward()
            rows.append(_row(name, data, out.detach(), float(leaf.grad.abs().mean()), bins))
    return rows


def glu_study(
    projector: nn.Module,
    prenorm: torch.Tensor,
    bins: int = 100,
    seed: int = 0,
    direction: Optional[torch.Tensor] = None,
) -> list[ActivationRow]:
    """GLU, ReGLU, GeGLU and SwiGLU built from ``projector``'s own gate_proj/up_proj weights, on
    its real pre-norm input: output statistics and gradient flow back to that input.

    ``direction`` (shape of the gate) is R in ACTIVATION_NOTES["grad (GLU)"]; by default a seeded
    standard-normal tensor."""
    x0 = prenorm.detach().float()
    w_gate = projector.gate_proj.weight.detach().float().to(x0.device)
    w_up = projector.up_proj.weight.detach().float().to(x0.device)
    out_shape = (*x0.shape[:-1], w_gate.shape[0])
    if direction is None:
        direction = _normal(out_shape, seed)
    direction = direction.detach().float().to(x0.device)
    rows = []
    for name, act in GLU_VARIANTS.items():
        with torch.inference_mode(False), torch.enable_grad():
            x = x0.clone().requires_grad_(True)
            out = act(F.linear(x, w_gate)) * F.linear(x, w_up)
            (out * direction).sum().backward()
        rows.append(_row(name, "clip (GLU)", out.detach(), float(x.grad.abs().mean()), bins))
    return rows


@dataclass
class ActivationReport:
    model_name: str
    projector_trained: bool  # False: random projector weights, so its gate is random too
    encoder_frames: int
    duration_s: float
    gate_shape: tuple[int, ...]
    gate_mean: float
    gate_std: float
    plain: list[ActivationRow]  # 4 activations on the clip, then the same 4 on random normal data
    glu: list[ActivationRow]  # GLU, ReGLU, GeGLU, SwiGLU on the clip
    notes: dict[str, str] = field(default_factory=lambda: dict(ACTIVATION_NOTES))


def study_activations(model, samples, bins: int = 100, seed: int = 0) -> ActivationReport:
    """Experiment 2 for one clip: ``gate_input``, then ``activation_study`` and ``glu_study``."""
    inputs = gate_input(model, samples)
    gate = inputs.gate.float()
    return ActivationReport(
        model_name=model.name,
        projector_trained=model.projector_trained,
        encoder_frames=inputs.encoder_frames,
        duration_s=inputs.duration_s,
        gate_shape=tuple(gate.shape),
        gate_mean=float(gate.mean()),
        gate_std=float(gate.std(correction=0)),
        plain=activation_study(inputs.gate, bins, seed),
        glu=glu_study(model.projector, inputs.prenorm, bins, seed),
    )
