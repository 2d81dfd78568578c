"""A checkpoint's trained weights beyond the projector, applied to the encoder and the decoder.

Tiny Audio saves them in one of three ways:
- a PEFT adapter on the decoder (``adapter_model.safetensors`` + ``adapter_config.json``),
  applied with ``peft`` when the config's ``use_lora`` says so, as Tiny Audio applies it;
- the whole fine-tuned decoder (``freeze_language_model: false``) as ``language_model.*`` keys in
  ``model.safetensors``;
- course era: LoRA weights in ``decoder.safetensors`` / ``encoder.safetensors`` (the names of the
  PEFT model's trainable parameters) with their settings in ``decoder_lora_config.json`` /
  ``encoder_lora_config.json``.
Every adapter is merged into the weights after loading, so the pipeline runs plain transformers
models (its fast decoder, its beam search and its embedding statistics need nothing else).
Any weight that cannot be applied is an error naming it: never a silently different model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from tiny_audio.loading.parts import read_safetensors

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
DECODER_PREFIX = "language_model."
COURSE_LORA_PARTS = ("encoder", "decoder")


def uses_peft_adapter(config: dict) -> bool:
    """Whether a checkpoint's PEFT adapter is applied: Tiny Audio loads it only when the
    config's ``use_lora`` is set (or absent)."""
    return bool(config.get("use_lora", True))


def course_lora_files(part: str) -> tuple[str, str]:
    """The course era's settings and weights file names for ``part``."""
    return f"{part}_lora_config.json", f"{part}.safetensors"


def course_lora_rank(part: str, settings: dict) -> int:
    """The rank of the course-era LoRA that ``settings`` (the part's ``*_lora_config.json``) asks
    for, 0 for none: the decoder's when ``"peft_method": "lora"`` and ``r`` > 0, the encoder's
    when ``r`` > 0, as that era's code applied them."""
    rank = int(settings.get("r", 0) or 0)
    return rank if rank > 0 and (part == "encoder" or settings.get("peft_method") == "lora") else 0


def apply_full_decoder_weights(decoder: nn.Module, combined: dict[str, torch.Tensor]) -> bool:
    """Load the ``language_model.*`` weights of ``model.safetensors`` into ``decoder``: every
    key must name a parameter of the same shape, and every parameter must be given (a tied
    copy of a given one counts). Returns whether there were any."""
    state = {key[len(DECODER_PREFIX):]: value for key, value in combined.items() if key.startswith(DECODER_PREFIX)}
    if not state:
        return False
    expected = decoder.state_dict()
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise ValueError(f"model.safetensors has decoder weight '{DECODER_PREFIX}{unexpected[0]}' that the decoder "
                         f"'{decoder.config.name_or_path}' lacks ({len(unexpected)} such keys)")
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ValueError(f"model.safetensors key '{DECODER_PREFIX}{key}' has shape {tuple(value.shape)}, "
                             f"the decoder's {tuple(expected[key].shape)}")
    given = {expected[key].data_ptr() for key in state}
    missing = sorted(key for key in set(expected) - set(state) if expected[key].data_ptr() not in given)
    if missing:
        raise ValueError(f"model.safetensors holds decoder weights but lacks '{DECODER_PREFIX}{missing[0]}' "
                         f"({len(missing)} missing)")
    decoder.load_state_dict(state, strict=False)
    return True


def apply_peft_adapter(decoder: nn.Module, directory: Path) -> nn.Module:
    """The decoder with the directory's PEFT adapter loaded and merged into its weights."""
    from peft import PeftConfig, PeftModel

    config = PeftConfig.from_pretrained(str(directory))
    config.inference_mode = True
    model = PeftModel(decoder, config)
    result = model.load_adapter(str(directory), adapter_name="default", is_trainable=False)
    _check_load(result.missing_keys, result.unexpected_keys, ADAPTER_WEIGHTS)
    return _merged(model, ADAPTER_WEIGHTS)


def apply_course_lora(module: nn.Module, directory: Path, part: str) -> tuple[nn.Module, Optional[str], Optional[str]]:
    """The course era's LoRA for ``part`` ("decoder" or "encoder"), applied where that era's
    code applied it: the decoder's when its config says ``"peft_method": "lora"`` and ``r`` > 0,
    the encoder's when ``r`` > 0. Returns the module (merged), what was applied, and a note when
    a weights file is there that that code would not apply either."""
    from peft import LoraConfig, TaskType, get_peft_model

    config_path, weights_path = (directory / name for name in course_lora_files(part))
    settings = json.loads(config_path.read_text()) if config_path.is_file() else {}
    rank = course_lora_rank(part, settings)
    if not rank:
        note = (f"{weights_path.name} is not applied: {config_path.name} does not ask for a LoRA "
                "(nor would Tiny Audio apply it)." if weights_path.is_file() else None)
        return module, None, note
    if not weights_path.is_file():
        raise ValueError(f"{config_path.name} asks for a rank-{rank} LoRA but {weights_path.name} is missing")
    lora = LoraConfig(
        r=rank, lora_alpha=settings.get("lora_alpha", 8),
        target_modules=settings.get("target_modules", ["q_proj", "k_proj"]),
        lora_dropout=settings.get("lora_dropout", 0.0), bias=settings.get("bias", "none"),
        modules_to_save=settings.get("modules_to_save"), inference_mode=True,
        task_type=TaskType.CAUSAL_LM if part == "decoder" else TaskType.FEATURE_EXTRACTION,
    )
    model = get_peft_model(module, lora)
    state = read_safetensors(weights_path)
    expected = model.state_dict()
    unexpected = sorted(set(state) - set(expected))
    trainable = {name for name in expected if "lora_" in name or ".modules_to_save." in name}
    _check_load(sorted(trainable - set(state)), unexpected, weights_path.name)
    model.load_state_dict(state, strict=False)
    return _merged(model, weights_path.name), f"rank-{rank} {part} LoRA", None


def _check_load(missing: list[str], unexpected: list[str], filename: str) -> None:
    if unexpected:
        raise ValueError(f"{filename} has weight '{unexpected[0]}' that matches no module of the model "
                         f"({len(unexpected)} such keys)")
    if missing:
        raise ValueError(f"{filename} lacks adapter weight '{missing[0]}' ({len(missing)} missing)")


def _merged(model, filename: str) -> nn.Module:
    if not hasattr(model, "merge_and_unload"):
        raise ValueError(f"{filename}: a {model.peft_config['default'].peft_type} adapter cannot be merged into "
                         "the weights, and this app runs merged models only")
    return model.merge_and_unload()
