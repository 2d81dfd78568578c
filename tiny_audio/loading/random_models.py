"""Pipelines built from configurations with random weights: nothing to download.

Speed and memory do not depend on the weights' values, so the course's real-scale model
(HuBERT-xlarge encoder, 121.6M-parameter SwiGLU projector, SmolLM3-3B decoder) can be timed on
any GPU from its published configuration alone. A small scale of the same shapes runs on a CPU.
The transcripts of such pipelines are meaningless by construction, and they say so.
"""

from __future__ import annotations

from typing import Optional

import torch

from tiny_audio.pipeline.encoders import encoder_from_model
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.pipeline.projector import AudioProjector

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "transcribe the speech to text",
    "a projector maps audio frames into the language model",
    "system user assistant no think system override",
]


def simple_tokenizer(vocab_size: int = 300):
    """A byte-level BPE tokenizer trained in-process on a few sentences, with a ChatML template.

    Real enough to render prompts and decode ids; it stands in where a model's own tokenizer
    cannot be downloaded.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_CORPUS * 20, trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", bos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def hubert_xlarge_config(small: bool = False):
    """facebook/hubert-xlarge-ls960-ft's published shape (1280-d, 48 layers), or a tiny one."""
    from transformers import HubertConfig

    if small:
        return HubertConfig(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
            conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
            feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
        )
    return HubertConfig(
        hidden_size=1280, num_hidden_layers=48, num_attention_heads=16, intermediate_size=5120,
        feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
    )


def smollm3_3b_config(small: bool = False):
    """HuggingFaceTB/SmolLM3-3B's published shape (2048-d, 36 layers, 16/4 heads, 128,256
    vocabulary, tied embeddings), or a tiny one."""
    from transformers import SmolLM3Config

    if small:
        return SmolLM3Config(
            vocab_size=1024, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
            tie_word_embeddings=True, initializer_range=0.3, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        )
    return SmolLM3Config(
        vocab_size=128_256, hidden_size=2048, intermediate_size=11_008, num_hidden_layers=36,
        num_attention_heads=16, num_key_value_heads=4, max_position_embeddings=65_536,
        tie_word_embeddings=True, rope_theta=5_000_000.0,
    )


def _fold_weight_norm(model: torch.nn.Module) -> torch.nn.Module:
    """Replace weight-normalised parameters by plain ones (same values). Safe here because the
    model is built by this module; it also lets torch's FLOP counter read the convolution."""
    from torch.nn.utils import parametrize

    for module in model.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return model


def course_scale_pipeline(
    small: bool = False,
    device: Optional[str] = None,
    dtype: Optional[torch.dtype] = None,
    fast_decode: Optional[bool] = None,
    seed: int = 0,
    compile: bool = False,
) -> AudioLLM:
    """HuBERT-xlarge → SwiGLU (k 5, hidden 8192) → SmolLM3-3B with random weights (or the
    same shapes, tiny). Weights are initialised directly on the target device."""
    from transformers import HubertModel, SmolLM3ForCausalLM

    from tiny_audio.pipeline.model import pick_device

    device, dtype = pick_device(device, dtype)
    torch.manual_seed(seed)
    encoder_config, decoder_config = hubert_xlarge_config(small), smollm3_3b_config(small)
    hidden = 256 if small else 8192
    with torch.device(device):
        encoder = _fold_weight_norm(HubertModel(encoder_config)).to(dtype).eval()
        projector = AudioProjector(encoder_config.hidden_size, decoder_config.hidden_size, k=5, hidden_dim=hidden)
        decoder = SmolLM3ForCausalLM(decoder_config).to(dtype).eval()
    model = AudioLLM(
        encoder_from_model(encoder, "random HuBERT-xlarge" if not small else "random HuBERT (small)"),
        projector,
        decoder,
        simple_tokenizer(),
        name="course scale, random weights" if not small else "course shapes, small, random weights",
        projector_trained=False,
        device=str(device),
        dtype=dtype,
        fast_decode=fast_decode,
        compile=compile,
    )
    model.stop_ids = set()  # random weights: always decode the requested number of tokens
    return model
