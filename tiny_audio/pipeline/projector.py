"""Audio projectors: the trainable bridge from speech-encoder frames to LLM input embeddings.

Two architectures, with the exact state-dict names of the checkpoints they load:

- ``AudioProjector``: the course-era SwiGLU projector (frame stack with zero padding →
  RMSNorm → SwiGLU → down projection → RMSNorm).
- ``MLPAudioProjector``: the projector current Tiny Audio checkpoints use (frame stack that
  truncates → linear → RMSNorm → GELU → linear → RMSNorm), and its earlier forms (without the
  output RMSNorm, without either RMSNorm, with biases), told apart by their keys.
- ``ConvMLPAudioProjector``: December 2025's MLP, a strided convolution (2× fewer frames) in
  place of the frame stack, then linear → GELU → linear.

Both take an optional ``record(name, tensor)`` callback. Tracing only hands the callback
references to tensors the forward pass computes anyway, so a traced run returns exactly the
numbers an untraced one does, from the same single pass.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from tiny_audio.pipeline.stages import (
    CONV_MLP_STAGES,
    DOWNSAMPLE,
    MLP_PLAIN_STAGES,
    MLP_STAGES,
    MLP_STAGES_WITHOUT_NORM_2,
    STACKED,
    SWIGLU_STAGES,
)

Recorder = Optional[Callable[[str, torch.Tensor], None]]


class RMSNorm(nn.Module):
    """Llama's RMSNorm: normalise in float32, cast back, then scale by a learned weight."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input_dtype = x.dtype
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(input_dtype)


def stack_frames_padded(x: torch.Tensor, k: int) -> torch.Tensor:
    """[B, T, D] → [B, ceil(T/k), k·D]: zero-pad the end of time to a multiple of k, then
    concatenate each run of k consecutive frames (frame-major)."""
    batch, frames, dim = x.shape
    remainder = frames % k
    if remainder:
        x = F.pad(x, (0, 0, 0, k - remainder))
    return x.contiguous().view(batch, -1, dim * k)


def stack_frames_truncated(x: torch.Tensor, k: int) -> torch.Tensor:
    """[B, T, D] → [B, (T-k)//k + 1, k·D]: drop the trailing frames that do not fill a group."""
    batch, frames, dim = x.shape
    kept = ((frames - k) // k + 1) * k if frames >= k else 0
    if kept == 0:
        raise ValueError(f"{frames} encoder frames are fewer than the stack rate k={k}: audio too short")
    return x[:, :kept].contiguous().view(batch, -1, dim * k)


def _init_linear(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)


class AudioProjector(nn.Module):
    """The course's SwiGLU projector. With D_enc 1280, k 5, hidden 8192 and D_llm 2048 it has
    exactly 121,643,264 parameters."""

    stages = SWIGLU_STAGES
    stack_mode = "pad"  # the last group's missing frames are zeros

    def __init__(self, encoder_dim: int, llm_dim: int, k: int = 5, hidden_dim: int = 8192):
        super().__init__()
        self.k = k
        stacked_dim = encoder_dim * k
        self.ln_pre = RMSNorm(stacked_dim)
        self.gate_proj = nn.Linear(stacked_dim, hidden_dim, bias=False)
        self.up_proj = nn.Linear(stacked_dim, hidden_dim, bias=False)
        self.down_proj = nn.Linear(hidden_dim, llm_dim, bias=False)
        self.ln_post = RMSNorm(llm_dim)
        self.apply(_init_linear)

    @property
    def input_dim(self) -> int:
        return self.gate_proj.in_features

    @property
    def encoder_dim(self) -> int:
        return self.input_dim // self.k

    @property
    def output_dim(self) -> int:
        return self.down_proj.out_features

    def output_frames(self, encoder_frames: int) -> int:
        return -(-encoder_frames // self.k)

    def forward(self, x: torch.Tensor, record: Recorder = None) -> torch.Tensor:
        record = record or _ignore
        stacked = stack_frames_padded(x, self.k)
        record(STACKED, stacked)
        normed = self.ln_pre(stacked)
        record("pre-norm", normed)
        gate = self.gate_proj(normed)
        record("gate", gate)
        up = self.up_proj(normed)
        record("up", up)
        product = F.silu(gate) * up
        record("swiglu", product)
        down = self.down_proj(product)
        record("down", down)
        out = self.ln_post(down)
        record("post-norm", out)
        return out


class MLPAudioProjector(nn.Module):
    """Current Tiny Audio's projector: truncating frame stack, then a two-layer GELU MLP with an
    RMSNorm after each linear layer. ``norm=False`` / ``norm_2=False`` / ``bias=True`` build the
    earlier forms that checkpoints from before 2026-05-06 hold."""

    stages = MLP_STAGES
    stack_mode = "truncate"  # frames that do not fill a last group are dropped

    def __init__(self, encoder_dim: int, llm_dim: int, k: int = 5, hidden_dim: int = 2048, *,
                 bias: bool = False, norm: bool = True, norm_2: bool = True):
        super().__init__()
        if norm_2 and not norm:
            raise ValueError("no Tiny Audio MLP projector has norm_2 without norm")
        self.k = k
        self.linear_1 = nn.Linear(encoder_dim * k, hidden_dim, bias=bias)
        self.norm = RMSNorm(hidden_dim) if norm else None
        self.linear_2 = nn.Linear(hidden_dim, llm_dim, bias=bias)
        self.norm_2 = RMSNorm(llm_dim) if norm_2 else None
        self.stages = MLP_STAGES if norm_2 else MLP_STAGES_WITHOUT_NORM_2 if norm else MLP_PLAIN_STAGES
        self.apply(_init_linear)

    @property
    def input_dim(self) -> int:
        return self.linear_1.in_features

    @property
    def encoder_dim(self) -> int:
        return self.input_dim // self.k

    @property
    def output_dim(self) -> int:
        return self.linear_2.out_features

    def output_frames(self, encoder_frames: int) -> int:
        return max((encoder_frames - self.k) // self.k + 1, 0)

    def forward(self, x: torch.Tensor, record: Recorder = None) -> torch.Tensor:
        record = record or _ignore
        stacked = stack_frames_truncated(x, self.k)
        record(STACKED, stacked)
        h = self.linear_1(stacked)
        record("linear_1", h)
        if self.norm is not None:
            h = self.norm(h)
            record("norm", h)
        h = F.gelu(h)
        record("gelu", h)
        h = self.linear_2(h)
        record("linear_2", h)
        if self.norm_2 is not None:
            h = self.norm_2(h)
            record("norm_2", h)
        return h


class ConvMLPAudioProjector(nn.Module):
    """December 2025's Tiny Audio MLP: a convolution (kernel 3, stride 2, padding 1, no bias)
    halves the frame rate, then linear → GELU → linear, no norms and no biases."""

    stages = CONV_MLP_STAGES
    stack_mode = "pad"  # the convolution zero-pads the ends of the time axis

    def __init__(self, encoder_dim: int, llm_dim: int, hidden_dim: int):
        super().__init__()
        self.k = 2  # encoder frames per audio token (the convolution's stride)
        self.downsample = nn.Conv1d(encoder_dim, encoder_dim, kernel_size=3, stride=2, padding=1, bias=False)
        self.linear_1 = nn.Linear(encoder_dim, hidden_dim, bias=False)
        self.linear_2 = nn.Linear(hidden_dim, llm_dim, bias=False)

    @property
    def input_dim(self) -> int:
        return self.linear_1.in_features

    @property
    def encoder_dim(self) -> int:
        return self.input_dim

    @property
    def output_dim(self) -> int:
        return self.linear_2.out_features

    def output_frames(self, encoder_frames: int) -> int:
        return max((encoder_frames - 1) // 2 + 1, 0)

    def forward(self, x: torch.Tensor, record: Recorder = None) -> torch.Tensor:
        record = record or _ignore
        h = self.downsample(x.transpose(1, 2)).transpose(1, 2)
        record(DOWNSAMPLE, h)
        h = self.linear_1(h)
        record("linear_1", h)
        h = F.gelu(h)
        record("gelu", h)
        out = self.linear_2(h)
        record("linear_2", out)
        return out


def _ignore(name: str, tensor: torch.Tensor) -> None:
    return None


def projector_from_state_dict(state: dict[str, torch.Tensor], k: int) -> nn.Module:
    """Build the projector whose architecture and sizes a state dict describes (keys without
    any ``projector.`` prefix), then load it strictly. ``k`` is the stack rate (the convolutional
    projector's stride is fixed: 2).

    Raises ``ValueError`` naming the offending key when keys are missing, unexpected or of the
    wrong shape — never a silent partial load.
    """
    if "gate_proj.weight" in state:
        first_key, last_key = "gate_proj.weight", "down_proj.weight"
    elif "linear_1.weight" in state:
        first_key, last_key = "linear_1.weight", "linear_2.weight"
    else:
        raise ValueError(
            "projector weights have neither 'gate_proj.weight' (SwiGLU) nor 'linear_1.weight' (MLP); "
            f"keys found: {sorted(state)[:8]}"
        )
    if last_key not in state:
        raise ValueError(f"projector weights are missing key '{last_key}'")
    hidden, in_dim = state[first_key].shape
    llm_dim = state[last_key].shape[0]
    if "downsample.weight" in state:
        with torch.device("meta"):
            projector = ConvMLPAudioProjector(in_dim, llm_dim, hidden_dim=hidden)
    else:
        if in_dim % k:
            raise ValueError(
                f"projector key '{first_key}' has input width {in_dim}, not a multiple of the stack rate k={k}"
            )
        with torch.device("meta"):
            if first_key == "gate_proj.weight":
                projector = AudioProjector(in_dim // k, llm_dim, k=k, hidden_dim=hidden)
            else:
                if "norm_2.weight" in state and "norm.weight" not in state:
                    raise ValueError("projector weights are missing key 'norm.weight' (they have 'norm_2.weight')")
                projector = MLPAudioProjector(in_dim // k, llm_dim, k=k, hidden_dim=hidden,
                                              bias="linear_1.bias" in state, norm="norm.weight" in state,
                                              norm_2="norm_2.weight" in state)
    load_projector_state(projector, state)
    return projector


def load_projector_state(projector: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Strict load with errors that name the key. Works on a module built on the meta device."""
    expected = projector.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing:
        raise ValueError(f"projector weights are missing key '{missing[0]}' (missing: {missing})")
    if unexpected:
        raise ValueError(f"projector weights have unexpected key '{unexpected[0]}' (unexpected: {unexpected})")
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ValueError(
                f"projector key '{key}' has shape {tuple(state[key].shape)}, expected {tuple(tensor.shape)}"
            )
    projector.load_state_dict({key: value.float() for key, value in state.items()}, strict=True, assign=True)
