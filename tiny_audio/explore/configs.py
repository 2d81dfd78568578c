"""Exercise 3: projector configurations.

``projector_configs`` counts each configuration's parameters from a SwiGLU projector built on the
``meta`` device and its frame counts from the padded stacking function, beside the numbers the
course prints (``COURSE_CONFIGS``: only its first row is right).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import torch

from tiny_audio.explore.rates import stacked_frames
from tiny_audio.pipeline.audio import SAMPLE_RATE
from tiny_audio.pipeline.encoders import FRAME_MS
from tiny_audio.pipeline.projector import AudioProjector


@dataclass(frozen=True)
class ProjectorConfig:
    name: str
    encoder_dim: int
    k: int
    hidden_dim: int
    llm_dim: int


@dataclass(frozen=True)
class CourseRow:
    """Exercise 3's expected output, as printed in the course."""

    params: int
    frames: int
    ms_per_frame: float
    compression: float


COURSE_CONFIGS: tuple[tuple[ProjectorConfig, CourseRow], ...] = (
    (ProjectorConfig("Actual (Tiny Audio)", 1280, 5, 8192, 2048), CourseRow(121_643_264, 30, 100.0, 5.0)),
    (ProjectorConfig("Smaller Projector", 1280, 5, 4096, 2048), CourseRow(60_829_696, 30, 100.0, 5.0)),
    (ProjectorConfig("More Downsampling", 1280, 8, 8192, 2048), CourseRow(121_651_456, 18, 166.7, 8.3)),
    (ProjectorConfig("Less Downsampling", 1280, 2, 8192, 2048), CourseRow(121_634_880, 75, 40.0, 2.0)),
)


@dataclass
class ConfigRow:
    name: str
    encoder_dim: int
    k: int
    hidden_dim: int
    llm_dim: int
    params: int  # counted from the module built on the meta device
    breakdown: dict[str, int]  # parameters per tensor
    frames_in: int
    frames_out: int  # from the padded stacking function
    ms_per_frame: float
    compression: float
    course: Optional[CourseRow] = None  # the course's printed row, for its four configurations
    course_params_right: Optional[bool] = None


def projector_parameters(encoder_dim: int, k: int, hidden_dim: int, llm_dim: int) -> dict[str, int]:
    """Parameters per tensor of the SwiGLU projector, from an instance on the meta device (no
    memory allocated, so a 10-billion-parameter configuration costs nothing)."""
    with torch.device("meta"):
        module = AudioProjector(encoder_dim, llm_dim, k=k, hidden_dim=hidden_dim)
    return {name: p.numel() for name, p in module.named_parameters()}


def waveform_encoder_frames(duration_s: float) -> int:
    """Frames a wav2vec2/HuBERT encoder (the course's) gives for ``duration_s`` of 16 kHz audio:
    its convolutional front end's arithmetic, kernels and strides read from HubertConfig."""
    from transformers import HubertConfig

    config = HubertConfig()
    length = round(duration_s * SAMPLE_RATE)
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        length = max((length - kernel) // stride + 1, 0)
    return length


def _as_config(item, index: int) -> ProjectorConfig:
    if isinstance(item, ProjectorConfig):
        return item
    if isinstance(item, dict):
        values = dict(item)
        values.setdefault("name", f"Custom {index}")
        config = ProjectorConfig(**values)
    else:
        encoder_dim, k, hidden_dim, llm_dim = item
        config = ProjectorConfig(f"Custom {index}", encoder_dim, k, hidden_dim, llm_dim)
    sizes = (config.encoder_dim, config.k, config.hidden_dim, config.llm_dim)
    if not all(isinstance(v, int) and v >= 1 for v in sizes):
        raise ValueError(f"{config.name}: encoder dim, k, hidden and LLM dim must be positive integers, got {sizes}")
    return config


def projector_configs(
    extra: Optional[Iterable] = None,
    duration_s: float = 3.0,
    encoder_frames: Optional[int] = None,
) -> list[ConfigRow]:
    """Exercise 3's four configurations, then ``extra`` ones (``ProjectorConfig``, dicts with its
    fields, or (encoder_dim, k, hidden_dim, llm_dim) tuples), for a clip of ``duration_s`` seconds
    (``encoder_frames`` by default from the HuBERT front end: 149 for 3.0 s, as in the course)."""
    frames_in = waveform_encoder_frames(duration_s) if encoder_frames is None else int(encoder_frames)
    if frames_in < 1 or duration_s <= 0:
        raise ValueError(f"need a clip with at least one encoder frame, got {frames_in} frames in {duration_s} s")
    entries = [(config, course) for config, course in COURSE_CONFIGS]
    entries += [(_as_config(item, i), None) for i, item in enumerate(extra or [], start=1)]
    rows = []
    for config, course in entries:
        breakdown = projector_parameters(config.encoder_dim, config.k, config.hidden_dim, config.llm_dim)
        params = sum(breakdown.values())
        frames_out = stacked_frames(frames_in, config.k, "pad")
        rows.append(ConfigRow(
            name=config.name,
            encoder_dim=config.encoder_dim,
            k=config.k,
            hidden_dim=config.hidden_dim,
            llm_dim=config.llm_dim,
            params=params,
            breakdown=breakdown,
            frames_in=frames_in,
            frames_out=frames_out,
            ms_per_frame=config.k * FRAME_MS,  # every output frame is k encoder frames of audio
            compression=frames_in / frames_out,
            course=course,
            course_params_right=None if course is None else course.params == params,
        ))
    return rows
