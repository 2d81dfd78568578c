"""Tiny Audio checkpoints, from a local directory or the Hub.

Read natively — ``config.json`` as plain JSON, the projector as safetensors — and never with
``trust_remote_code``: no code that ships with a checkpoint runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from tiny_audio.loading.parts import default_dtype, load_decoder, read_safetensors, strip_prefix
from tiny_audio.pipeline.encoders import load_encoder
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.pipeline.projector import AudioProjector, projector_from_state_dict

# Files a Tiny Audio checkpoint needs from the Hub; nothing executable is fetched.
CHECKPOINT_FILES = ["config.json", "*.safetensors", "*.json", "*.txt", "*.model", "*.jinja"]


def load_checkpoint(spec: str, device: Optional[str] = None, dtype: Optional[torch.dtype] = None) -> AudioLLM:
    """A Tiny Audio checkpoint from a local directory or a Hub id."""
    directory = Path(spec)
    if not directory.is_dir():
        from huggingface_hub import snapshot_download

        directory = Path(snapshot_download(spec, allow_patterns=CHECKPOINT_FILES))
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise ValueError(f"'{spec}' has no config.json: not a Tiny Audio checkpoint")
    config = json.loads(config_path.read_text())
    for key in ("audio_model_id", "text_model_id"):
        if not config.get(key):
            raise ValueError(f"{config_path} lacks '{key}': not a Tiny Audio checkpoint")

    state = read_projector_state(directory)
    k = _stack_rate(config, state)
    projector = projector_from_state_dict(state, k)
    load_dtype = dtype or default_dtype(device)
    encoder = load_encoder(config["audio_model_id"], dtype=load_dtype)
    decoder, tokenizer = load_decoder(config["text_model_id"], load_dtype, tokenizer_dir=directory)
    style = "course" if isinstance(projector, AudioProjector) else "current"
    return AudioLLM(
        encoder, projector, decoder, tokenizer, name=str(spec), prompt_style=style, device=device, dtype=dtype
    )


def read_projector_state(directory: Path) -> dict[str, torch.Tensor]:
    """Projector weights in either Hub layout: ``projector.safetensors`` (bare keys) or
    ``model.safetensors`` (keys under ``projector.``)."""
    standalone = directory / "projector.safetensors"
    if standalone.is_file():
        return read_safetensors(standalone)
    combined = directory / "model.safetensors"
    if combined.is_file():
        state = read_safetensors(combined)
        if not any(key.startswith("projector.") for key in state):
            raise ValueError(f"{combined} has no keys under 'projector.'")
        return strip_prefix(state)
    raise ValueError(f"{directory} has neither projector.safetensors nor model.safetensors")


def _stack_rate(config: dict, state: dict[str, torch.Tensor]) -> int:
    for key in ("audio_downsample_rate", "projector_pool_stride"):
        if config.get(key):
            return int(config[key])
    encoder_dim = config.get("encoder_dim")
    first = state.get("gate_proj.weight", state.get("linear_1.weight"))
    if encoder_dim and first is not None:
        return int(first.shape[1]) // int(encoder_dim)
    raise ValueError("config.json gives no stack rate ('audio_downsample_rate' or 'projector_pool_stride')")
