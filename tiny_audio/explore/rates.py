"""Exercise 1, Experiment 1: frame-stack rates.

``downsampling_table`` gives, per stack rate k, the LLM audio tokens, audio per token and embedding
memory, with frame counts from running the projector's own stacking functions; ``model_stacking``
says what the loaded model's projector did to a clip (padding or truncation, by how many frames).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Union

import torch

from tiny_audio.pipeline.encoders import FRAME_MS
from tiny_audio.pipeline.projector import stack_frames_padded, stack_frames_truncated
from tiny_audio.pipeline.stages import ENCODER_OUTPUT, STACKED

STACK_MODES = ("pad", "truncate")


@dataclass
class RateRow:
    rate: int  # frames stacked into one LLM audio token (k)
    mode: str  # "pad" (course-era SwiGLU projector) or "truncate" (current MLP projector)
    frames_in: int  # encoder frames
    frames_out: int  # LLM audio tokens
    padded_frames: int  # zero frames appended to fill the last group (pad mode)
    dropped_frames: int  # trailing frames discarded (truncate mode)
    ms_per_token: Optional[float]  # audio per LLM token (k encoder frames); None when no token comes out
    compression: Optional[float]  # frames_in / frames_out
    embed_bytes_fp32: int  # frames_out × llm_dim × 4
    embed_bytes_bf16: int  # frames_out × llm_dim × 2
    custom: bool = False  # asked for by the user, not one of the course's rates


def stacked_frames(frames_in: int, k: int, mode: str = "pad") -> int:
    """Output frames of the projector's own stacking function on ``frames_in`` frames, checked
    against the closed form (pad: ceil(T/k); truncate: (T-k)//k + 1)."""
    if mode not in STACK_MODES:
        raise ValueError(f"mode must be one of {STACK_MODES}, got {mode!r}")
    if k < 1 or frames_in < 0:
        raise ValueError(f"need k ≥ 1 and frames ≥ 0, got k={k}, frames={frames_in}")
    probe = torch.zeros(1, frames_in, 1)  # one channel: the frame count is all that matters
    if mode == "pad":
        ran = stack_frames_padded(probe, k).shape[1]
        formula = -(-frames_in // k)
    else:
        try:
            ran = stack_frames_truncated(probe, k).shape[1]
        except ValueError:  # fewer frames than k: the projector refuses, nothing comes out
            ran = 0
        formula = max((frames_in - k) // k + 1, 0)
    if ran != formula:
        raise RuntimeError(f"stacking {frames_in} frames at k={k} ({mode}) gave {ran}, formula says {formula}")
    return ran


def rate_row(frames_in: int, llm_dim: int, k: int, mode: str = "pad", custom: bool = False) -> RateRow:
    frames_out = stacked_frames(frames_in, k, mode)
    return RateRow(
        rate=k,
        mode=mode,
        frames_in=frames_in,
        frames_out=frames_out,
        padded_frames=frames_out * k - frames_in if mode == "pad" else 0,
        dropped_frames=frames_in - frames_out * k if mode == "truncate" else 0,
        # Every token is k frames of audio (the last partly zero padding in pad mode).
        ms_per_token=k * FRAME_MS if frames_out else None,
        compression=frames_in / frames_out if frames_out else None,
        embed_bytes_fp32=frames_out * llm_dim * 4,
        embed_bytes_bf16=frames_out * llm_dim * 2,
        custom=custom,
    )


def downsampling_table(
    encoder_frames: int,
    llm_dim: int,
    rates: Iterable[int] = (2, 3, 5, 8, 10),
    custom: Union[int, Iterable[int], None] = None,
    mode: str = "pad",
) -> list[RateRow]:
    """One row per stack rate: the course's rates, then any custom ones (marked ``custom``)."""
    extra = [custom] if isinstance(custom, int) else list(custom or [])
    rows, seen = [], set()
    for k, is_custom in [(int(r), False) for r in rates] + [(int(r), True) for r in extra]:
        if k in seen:
            continue
        seen.add(k)
        rows.append(rate_row(encoder_frames, llm_dim, k, mode, is_custom))
    return rows


@dataclass
class ModelStacking:
    """What the loaded model's projector actually did to a clip's encoder frames."""

    projector: str  # class name
    k: int
    mode: str  # "pad" or "truncate"
    frames_in: int
    frames_out: int  # as traced
    padded_frames: int
    dropped_frames: int
    duration_s: float
    llm_dim: int
    ms_per_encoder_frame: float
    ms_per_token: float
    summary: str


def model_stacking(model, result) -> ModelStacking:
    """Padding or truncation, and by how many frames, for ``result`` (a traced transcription
    by ``model``). The traced frame count is checked against the stacking function."""
    if result.trace is None:
        raise ValueError("model_stacking needs a traced result (transcribe with trace=True)")
    if STACKED not in result.projector_stages:
        raise ValueError(f"{type(model.projector).__name__} does not stack frames (it downsamples with a "
                         "strided convolution): the stack-rate table does not apply to it")
    projector = model.projector
    k, mode = result.k, result.stack_mode
    frames_in = result.trace.stage(ENCODER_OUTPUT).shape[1]
    frames_out = result.trace.stage(STACKED).shape[1]
    llm_dim = result.trace.stage(result.output_stage).shape[-1]
    row = rate_row(frames_in, llm_dim, k, mode)
    if row.frames_out != frames_out:
        raise RuntimeError(f"the trace shows {frames_out} stacked frames, the stacking function {row.frames_out}")
    if mode == "pad":
        what = (f"zero-padded with {row.padded_frames} frame(s) to {frames_in + row.padded_frames}"
                if row.padded_frames else "a multiple of k: no padding")
    else:
        what = (f"{row.dropped_frames} trailing frame(s) dropped"
                if row.dropped_frames else "a multiple of k: nothing dropped")
    summary = (f"{type(projector).__name__} (k={k}, {mode}): {frames_in} encoder frames, {what}, "
               f"→ {frames_out} LLM audio tokens of {row.ms_per_token:.1f} ms each")
    return ModelStacking(
        projector=type(projector).__name__,
        k=k,
        mode=mode,
        frames_in=frames_in,
        frames_out=frames_out,
        padded_frames=row.padded_frames,
        dropped_frames=row.dropped_frames,
        duration_s=result.duration_s,
        llm_dim=llm_dim,
        ms_per_encoder_frame=result.encoder_frame_ms,
        ms_per_token=row.ms_per_token,
        summary=summary,
    )
