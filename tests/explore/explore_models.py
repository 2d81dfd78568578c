"""Shared by the explore tests: a tiny pipeline to run the experiments on, and closed-form
parameter counts to check them against."""

import torch
from tiny_models import tiny_llama, tiny_whisper

from tiny_audio.pipeline.encoders import encoder_from_model
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.pipeline.projector import AudioProjector, MLPAudioProjector


def tiny_pipeline(tokenizer, projector_kind="swiglu"):
    """Whisper (32-d) → projector → Llama (48-d); SwiGLU at k=5 or MLP at k=4."""
    decoder = tiny_llama(len(tokenizer))
    torch.manual_seed(3)
    if projector_kind == "swiglu":
        projector = AudioProjector(32, 48, k=5, hidden_dim=64)
    else:
        projector = MLPAudioProjector(32, 48, k=4, hidden_dim=40)
    return AudioLLM(
        encoder_from_model(tiny_whisper()), projector, decoder, tokenizer, name="tiny",
        prompt_style="course" if projector_kind == "swiglu" else "current",
    )


def swiglu_formula(enc, k, hidden, llm):
    """ln_pre + gate + up + down + ln_post, no biases."""
    return k * enc + 2 * k * enc * hidden + hidden * llm + llm


def llama_style_params(c, qk_norm: bool):
    """Embedding + layers · (attention with GQA + SwiGLU MLP + 2 norms) + final norm + head."""
    h, hd, inter = c["hidden_size"], c["head_dim"], c["intermediate_size"]
    q_out, kv_out = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    attention = h * q_out + 2 * h * kv_out + q_out * h + (2 * hd if qk_norm else 0)
    layer = attention + 3 * h * inter + 2 * h
    embedding = c["vocab_size"] * h
    head = 0 if c["tie_word_embeddings"] else embedding
    return embedding + c["num_hidden_layers"] * layer + h + head
