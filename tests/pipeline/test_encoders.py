"""Encoders: GLM-ASR's audio tower through transformers' own class, and the 30 s windows."""

import pytest
import torch
from tiny_models import speechlike, tiny_whisper

from tiny_audio.pipeline.encoders import encoder_from_model


def tiny_glm_asr():
    from transformers import GlmAsrConfig, GlmAsrForConditionalGeneration

    torch.manual_seed(0)
    config = GlmAsrConfig(
        audio_config={"model_type": "glmasr_encoder", "hidden_size": 32, "intermediate_size": 128,
                      "num_hidden_layers": 2, "num_attention_heads": 4, "num_mel_bins": 128},
        text_config={"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2},
        audio_token_id=63,
    )
    return GlmAsrForConditionalGeneration(config).eval()


@torch.inference_mode()
def test_glm_asr_gives_its_audio_towers_frames_for_the_real_audio_from_128_bin_log_mels():
    whole = tiny_glm_asr()
    encoder = encoder_from_model(whole, "glm")
    assert encoder.kind == "glmasr" and encoder.model is whole.model.audio_tower and encoder.dim == 32
    audio = speechlike(1.3)
    features = encoder.features(audio)
    assert features.shape == (1, 128, 3000)  # the 30 s window, as Tiny Audio's pipeline feeds it
    frames = encoder.frames(audio)
    assert frames.shape == (1, -(-audio.size // 320), 32)
    assert torch.equal(frames, whole.model.audio_tower(features).last_hidden_state[:, : frames.shape[1]])
    padded = encoder_from_model(whole, window="padded").frames(audio)
    assert padded.shape[1] == 1500 and torch.equal(padded[:, : frames.shape[1]], frames)
    with pytest.raises(ValueError, match="window"):
        encoder_from_model(whole, window="trimmed")


@torch.inference_mode()
def test_whispers_padded_window_keeps_every_frame_of_the_30_s():
    whisper = tiny_whisper()
    audio = speechlike(1.3)
    full = encoder_from_model(whisper).frames(audio)
    padded = encoder_from_model(whisper, window="padded").frames(audio)
    assert full.shape[1] == -(-audio.size // 320) and padded.shape[1] == 1500
    assert torch.equal(padded[:, : full.shape[1]], full)
