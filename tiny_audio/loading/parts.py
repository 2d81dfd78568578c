"""Pieces every way of loading shares: safetensors reading, the projector from weights (or a
seeded random one), a causal LM with its tokenizer, the default dtype of a device."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from tiny_audio.pipeline.model import pick_device
from tiny_audio.pipeline.projector import AudioProjector, projector_from_state_dict
from tiny_audio.pipeline.prompt import AUDIO_MARKER


def projector_from_weights(weights, encoder_dim: int, llm_dim: int, k: int, hidden: int) -> tuple[torch.nn.Module, bool]:
    """The projector from a weights file (keys with or without ``projector.``), else a random
    SwiGLU one — the same on every load (seed 0), so runs stay comparable. Returns it and
    whether it is trained."""
    if weights:
        return projector_from_state_dict(strip_prefix(read_safetensors(Path(weights))), k), True
    with torch.random.fork_rng(devices=[]):  # seed 0 here without touching the caller's RNG
        torch.manual_seed(0)
        return AudioProjector(encoder_dim, llm_dim, k=k, hidden_dim=hidden), False


def load_decoder(model_id: str, dtype: torch.dtype, tokenizer_dir: Optional[Path] = None):
    """A causal LM and its tokenizer (from ``tokenizer_dir`` when it has one: a checkpoint's own,
    with its ``<audio>`` token and chat template). Never with code that comes with either."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    decoder = AutoModelForCausalLM.from_pretrained(model_id, dtype=dtype, trust_remote_code=False)
    source = tokenizer_dir if tokenizer_dir and (tokenizer_dir / "tokenizer_config.json").is_file() else model_id
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    return decoder, tokenizer


def add_audio_token(tokenizer, decoder, token: str = AUDIO_MARKER) -> None:
    """What Tiny Audio does to its decoder: ``<audio>`` becomes a special token (if the tokenizer
    lacks it) and the embedding matrix is resized to the tokenizer's length, new rows at the mean
    of the old ones (seeded: the same rows on every load). The prompt never embeds ``<audio>``
    (the audio frames take its place), but the resized matrix is the vocabulary the decoder
    picks from."""
    if token not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [token]}, replace_extra_special_tokens=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        decoder.resize_token_embeddings(len(tokenizer), mean_resizing=True)


def default_dtype(device: Optional[str]) -> torch.dtype:
    return pick_device(device)[1]


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the projector's keys, without their ``projector.`` prefix when they have one."""
    if any(key.startswith("projector.") for key in state):
        return {key[len("projector.") :]: value for key, value in state.items() if key.startswith("projector.")}
    return state
