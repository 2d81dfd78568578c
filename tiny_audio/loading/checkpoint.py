"""Tiny Audio checkpoints, from a local directory or the Hub (``name@revision`` pins one).

Read natively — ``config.json`` as plain JSON, weights as safetensors, models with transformers'
own classes, adapters with ``peft`` — and never with ``trust_remote_code``: no code that ships
with a checkpoint runs. Every part is applied (projector, encoder and decoder adapters, a
fine-tuned decoder, the prompt and the generation settings) or the load fails naming the part.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from tiny_audio.loading.hub import checkpoint_directory
from tiny_audio.loading.parts import add_audio_token, default_dtype, load_decoder, read_safetensors, strip_prefix
from tiny_audio.loading.settings import checkpoint_settings
from tiny_audio.loading.trained_weights import (
    ADAPTER_CONFIG,
    DECODER_PREFIX,
    apply_course_lora,
    apply_full_decoder_weights,
    apply_peft_adapter,
    uses_peft_adapter,
)
from tiny_audio.pipeline.encoders import load_encoder
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.pipeline.projector import AudioProjector, ConvMLPAudioProjector, projector_from_state_dict
from tiny_audio.pipeline.text import clean_checkpoint_transcript

PROJECTOR_PREFIX = "projector."
SUPPORTED_PROJECTOR_TYPES = (None, "mlp")


def load_checkpoint(spec: str, device: Optional[str] = None, dtype: Optional[torch.dtype] = None) -> AudioLLM:
    """A Tiny Audio checkpoint from a local directory or a Hub id (``owner/name[@revision]``)."""
    directory = checkpoint_directory(spec, check=check_config)
    config = read_config(directory)
    combined = read_safetensors(directory / "model.safetensors") if (directory / "model.safetensors").is_file() else {}
    projector = _projector(directory, config, combined)
    era = ("course" if isinstance(projector, AudioProjector) else
           "conv" if isinstance(projector, ConvMLPAudioProjector) else "current")
    settings = checkpoint_settings(config, era)
    load_dtype = dtype or default_dtype(device)
    applied: list[str] = []
    # Files that Tiny Audio's own code would not apply either: said beside every result.
    notes: list[str] = []

    # December 2025's convolutional projector read every frame of Whisper's 30 s window.
    window = "padded" if era == "conv" else "full"
    encoder = load_encoder(config["audio_model_id"], dtype=load_dtype, window=window)
    encoder.model, lora, note = apply_course_lora(encoder.model, directory, "encoder")
    applied += [lora] if lora else []
    notes += [note] if note else []

    decoder, tokenizer = load_decoder(config["text_model_id"], load_dtype, tokenizer_dir=directory)
    add_audio_token(tokenizer, decoder)
    if apply_full_decoder_weights(decoder, combined):
        applied.append("fine-tuned decoder")
    decoder, lora, note = apply_course_lora(decoder, directory, "decoder")
    applied += [lora] if lora else []
    notes += [note] if note else []
    if (directory / ADAPTER_CONFIG).is_file():
        if uses_peft_adapter(config):
            decoder = apply_peft_adapter(decoder, directory)
            applied.append("decoder LoRA adapter")
        else:  # Tiny Audio itself loads the adapter only when use_lora is set
            notes.append(f"{ADAPTER_CONFIG} is not applied: config.json sets use_lora: false (as Tiny Audio reads it).")

    name = str(spec) + (f" (with {', '.join(applied)})" if applied else "")
    return AudioLLM(
        encoder, projector, decoder, tokenizer, name=name, prompt_style=settings.prompt,
        notice=" ".join(notes) or None,
        device=device, dtype=dtype, beams=settings.beams, max_new_tokens=settings.max_new_tokens,
        min_new_tokens=settings.min_new_tokens, stop_tokens=settings.stop_tokens, clean=clean_checkpoint_transcript,
    )


def read_config(directory: Path) -> dict:
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise ValueError(f"'{directory}' has no config.json: not a Tiny Audio checkpoint")
    config = json.loads(config_path.read_text())
    check_config(config, str(config_path))
    return config


def check_config(config, where: str = "config.json") -> None:
    """``ValueError`` unless ``config`` (read from ``where``) is a Tiny Audio checkpoint's config
    with a projector this app runs: checked before a Hub checkpoint's weights are fetched."""
    if not isinstance(config, dict):
        raise ValueError(f"{where} is not a JSON object: not a Tiny Audio checkpoint")
    for key in ("audio_model_id", "text_model_id"):
        if not config.get(key) or not isinstance(config[key], str):
            raise ValueError(f"{where} lacks '{key}': not a Tiny Audio checkpoint")
    projector_type = config.get("projector_type")
    if projector_type not in SUPPORTED_PROJECTOR_TYPES:
        raise ValueError(f"config.json's projector_type '{projector_type}' is not supported: this app runs the "
                         "course's SwiGLU and Tiny Audio's MLP projectors")


def _projector(directory: Path, config: dict, combined: dict[str, torch.Tensor]) -> torch.nn.Module:
    state = read_projector_state(directory, combined)
    return projector_from_state_dict(state, _stack_rate(config, state))


def read_projector_state(directory: Path, combined: Optional[dict] = None) -> dict[str, torch.Tensor]:
    """Projector weights in either Hub layout: ``projector.safetensors`` (bare keys) or
    ``model.safetensors`` (keys under ``projector.``, beside ``language_model.*`` ones)."""
    standalone = directory / "projector.safetensors"
    if standalone.is_file():
        return read_safetensors(standalone)
    if combined is None and (directory / "model.safetensors").is_file():
        combined = read_safetensors(directory / "model.safetensors")
    if combined:
        others = sorted({key.split(".")[0] + "." for key in combined} - {PROJECTOR_PREFIX, DECODER_PREFIX})
        if others:
            raise ValueError(f"model.safetensors has weights under '{others[0]}' that this app cannot apply")
        if not any(key.startswith(PROJECTOR_PREFIX) for key in combined):
            raise ValueError(f"{directory / 'model.safetensors'} has no keys under '{PROJECTOR_PREFIX}'")
        return strip_prefix(combined)
    raise ValueError(f"{directory} has neither projector.safetensors nor model.safetensors")


def _stack_rate(config: dict, state: dict[str, torch.Tensor]) -> int:
    # The course's SwiGLU states its rate as audio_downsample_rate, the MLP as
    # projector_pool_stride (downsample_rate belongs to another projector type).
    key = "projector_pool_stride" if "linear_1.weight" in state else "audio_downsample_rate"
    if config.get(key):
        return int(config[key])
    encoder_dim = config.get("encoder_dim")
    first = state.get("gate_proj.weight", state.get("linear_1.weight"))
    if encoder_dim and first is not None:
        return int(first.shape[1]) // int(encoder_dim)
    if "downsample.weight" in state:
        return 2
    raise ValueError(f"config.json gives no stack rate ('{key}')")
