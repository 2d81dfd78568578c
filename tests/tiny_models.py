"""Tiny random encoders, decoders and a real (small, trained in-process) tokenizer.

They exercise the whole pipeline in milliseconds, with nothing downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tiny_audio.loading.random_models import simple_tokenizer


def tiny_tokenizer():
    """A byte-level BPE tokenizer trained in-process, with a ChatML chat template."""
    return simple_tokenizer()


def tiny_llama(vocab_size: int, hidden: int = 48, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        initializer_range=0.3,  # large enough that greedy decoding does not repeat one token
    )
    return LlamaForCausalLM(config).eval()


def tiny_qwen3(vocab_size: int, hidden: int = 64, seed: int = 0):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=512,
    )
    return Qwen3ForCausalLM(config).eval()


def tiny_whisper(d_model: int = 32, seed: int = 0):
    from transformers import WhisperConfig, WhisperModel

    torch.manual_seed(seed)
    config = WhisperConfig(
        vocab_size=128,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        num_mel_bins=80,
        d_model=d_model,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,
        max_target_positions=64,
    )
    return WhisperModel(config).eval()


def tiny_hubert(hidden: int = 32, seed: int = 0):
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(seed)
    config = HubertConfig(
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    return HubertModel(config).eval()


def speechlike(seconds: float = 1.5, rate: int = 16_000, seed: int = 0) -> np.ndarray:
    """A deterministic voiced-sounding signal: a gliding harmonic tone with an envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(h * phase) / h for h in range(1, 8))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * np.minimum(t / seconds, 1)))
    return (0.2 * voice * envelope + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


def save_pair(tmp: Path, encoder, decoder, tokenizer) -> tuple[str, str]:
    """Save an encoder and a decoder (+ tokenizer) where a checkpoint's config can point."""
    encoder_dir, decoder_dir = tmp / "encoder", tmp / "decoder"
    encoder.save_pretrained(encoder_dir)
    decoder.save_pretrained(decoder_dir)
    tokenizer.save_pretrained(decoder_dir)
    return str(encoder_dir), str(decoder_dir)


def tiny_pipeline(seed: int = 4):
    """A whole tiny AudioLLM: tiny Whisper → SwiGLU projector → tiny Qwen3 (random weights)."""
    from tiny_audio.pipeline.encoders import encoder_from_model
    from tiny_audio.pipeline.model import AudioLLM
    from tiny_audio.pipeline.projector import AudioProjector

    tokenizer = tiny_tokenizer()
    decoder = tiny_qwen3(len(tokenizer), seed=seed)
    torch.manual_seed(0)
    projector = AudioProjector(32, decoder.config.hidden_size, k=5, hidden_dim=64)
    return AudioLLM(encoder_from_model(tiny_whisper()), projector, decoder, tokenizer, name="tiny")


def tiny_app_model(spec: str):
    """What the app's tests load under the name "tiny" (module level: the live worker process
    loads with it too): tiny Whisper → SwiGLU projector → tiny Llama, an untrained projector."""
    from tiny_audio.pipeline.encoders import encoder_from_model
    from tiny_audio.pipeline.model import AudioLLM
    from tiny_audio.pipeline.projector import AudioProjector

    if spec != "tiny":
        raise ValueError(f"unknown model {spec}")
    tokenizer = tiny_tokenizer()
    decoder = tiny_llama(len(tokenizer))
    torch.manual_seed(0)
    projector = AudioProjector(32, decoder.config.hidden_size, k=5, hidden_dim=64)
    return AudioLLM(encoder_from_model(tiny_whisper()), projector, decoder, tokenizer, name="tiny",
                    projector_trained=False)
