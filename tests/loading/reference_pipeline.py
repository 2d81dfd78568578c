"""What Tiny Audio's own inference computes for a tiny checkpoint, rebuilt from transformers and
peft alone (nothing from tiny_audio): the audio tokens the projector gives and the greedy tokens.

Per era, as its code does it: features of the full 30 s window (log-mel encoders) or of the
waveform (HuBERT); the projector applied to every encoder frame with transformers' LlamaRMSNorm;
for the frame-stacking MLP, as many audio tokens as the real audio's mel frames give through the
encoder's two convolutions; the prompt rendered by the tokenizer with one ``<audio>`` per audio
token (the course: one ``<audio>`` replaced by every projected frame); ``generate`` greedily.
"""

from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tiny_checkpoints import AUDIO, Checkpoint
from transformers.models.llama.modeling_llama import LlamaRMSNorm

STOPS = {"course": ["<|im_end|>"], "conv": ["<|im_end|>"], "current": ["<|im_end|>", "<|endoftext|>"]}
TRANSCRIBE_PROMPT = "Transcribe the speech to text"


def rms_norm(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    norm = LlamaRMSNorm(weight.shape[0], eps=1e-6)
    norm.weight.data.copy_(weight)
    return norm(x)


def reference_projection(checkpoint: Checkpoint, frames: torch.Tensor) -> torch.Tensor:
    """The projector of ``checkpoint`` on encoder frames [1, T, D] (every frame)."""
    p = checkpoint.projector
    if checkpoint.era == "course":
        k = checkpoint.config["audio_downsample_rate"]
        pad = (-frames.shape[1]) % k
        x = F.pad(frames, (0, 0, 0, pad)).reshape(1, -1, k * frames.shape[2])
        x = rms_norm(p["ln_pre.weight"], x)
        gated = F.silu(F.linear(x, p["gate_proj.weight"])) * F.linear(x, p["up_proj.weight"])
        x = F.linear(gated, p["down_proj.weight"])
        return rms_norm(p["ln_post.weight"], x)
    if checkpoint.era == "conv":
        x = F.conv1d(frames.transpose(1, 2), p["downsample.weight"], stride=2, padding=1).transpose(1, 2)
        return F.linear(F.gelu(F.linear(x, p["linear_1.weight"])), p["linear_2.weight"])
    k = checkpoint.config["projector_pool_stride"]
    tokens = (frames.shape[1] - k) // k + 1
    x = frames[:, : tokens * k].reshape(1, tokens, k * frames.shape[2])
    x = F.gelu(rms_norm(p["norm.weight"], F.linear(x, p["linear_1.weight"])))
    x = F.linear(x, p["linear_2.weight"])
    return rms_norm(p["norm_2.weight"], x) if "norm_2.weight" in p else x


def reference_encoder(checkpoint: Checkpoint, samples: np.ndarray) -> tuple[torch.Tensor, int]:
    """Every encoder frame [1, T, D], and the number of them that real audio covers."""
    from transformers import AutoConfig, AutoFeatureExtractor, GlmAsrForConditionalGeneration, HubertModel, WhisperModel

    directory = checkpoint.encoder_dir
    extractor = AutoFeatureExtractor.from_pretrained(directory)
    model_type = AutoConfig.from_pretrained(directory).model_type
    if model_type == "hubert":
        model = HubertModel.from_pretrained(directory).eval()
        values = extractor(samples, sampling_rate=16_000, return_tensors="pt").input_values
        if (checkpoint.directory / "encoder_lora_config.json").is_file():
            model = _course_lora(model, checkpoint, "encoder").get_base_model()
        frames = model(input_values=values).last_hidden_state
        return frames, frames.shape[1]
    features = extractor(samples, sampling_rate=16_000, return_attention_mask=True, return_tensors="pt")
    if model_type == "whisper":
        tower = WhisperModel.from_pretrained(directory).encoder.eval()
    else:
        tower = GlmAsrForConditionalGeneration.from_pretrained(directory).model.audio_tower.eval()
    frames = tower(features.input_features).last_hidden_state
    length = int(features.attention_mask.sum())
    for padding, kernel, stride in ((1, 3, 1), (1, 3, 2)):  # the encoder's two convolutions
        length = (length + 2 * padding - (kernel - 1) - 1) // stride + 1
    return frames, length


def _course_lora(model, checkpoint: Checkpoint, part: str):
    from peft import LoraConfig, TaskType, get_peft_model

    settings = json.loads((checkpoint.directory / f"{part}_lora_config.json").read_text())
    task = TaskType.CAUSAL_LM if part == "decoder" else TaskType.FEATURE_EXTRACTION
    lora = LoraConfig(r=settings["r"], lora_alpha=settings["lora_alpha"], target_modules=settings["target_modules"],
                      task_type=task)
    peft_model = get_peft_model(model, lora)
    result = peft_model.load_state_dict(load_file(checkpoint.directory / f"{part}.safetensors"), strict=False)
    assert not result.unexpected_keys
    return peft_model.eval()


def reference_decoder(checkpoint: Checkpoint, adapters: bool = True):
    """The decoder as Tiny Audio builds it: the text model, ``<audio>`` added with mean resizing
    (the course drew that row at random; it is never the greedy pick here), the fine-tuned
    weights, then the adapter through peft (not merged). ``adapters=False``: without the
    checkpoint's decoder weights, to show that they matter."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    decoder = AutoModelForCausalLM.from_pretrained(checkpoint.decoder_dir).eval()
    # The course loaded its tokenizer from the checkpoint; later eras from the text model.
    source = checkpoint.directory if checkpoint.era == "course" else checkpoint.decoder_dir
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    if AUDIO not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [AUDIO]}, replace_extra_special_tokens=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        decoder.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    if not adapters:
        return decoder, tokenizer
    if checkpoint.decoder_state:
        result = decoder.load_state_dict(checkpoint.decoder_state, strict=False)
        assert not result.unexpected_keys
    if (checkpoint.directory / "adapter_config.json").is_file() and checkpoint.config.get("use_lora"):
        decoder = PeftModel.from_pretrained(decoder, checkpoint.directory).eval()
    if (checkpoint.directory / "decoder_lora_config.json").is_file():
        decoder = _course_lora(decoder, checkpoint, "decoder")
    return decoder, tokenizer


@torch.inference_mode()
def reference_run(checkpoint: Checkpoint, samples: np.ndarray, adapters: bool = True) -> tuple[torch.Tensor, list[int]]:
    """(the audio tokens the LLM reads [1, N, D], the greedy tokens) for one clip."""
    frames, covered = reference_encoder(checkpoint, samples)
    projected = reference_projection(checkpoint, frames)
    config = checkpoint.config
    if checkpoint.era == "current":
        k = config["projector_pool_stride"]
        audio = projected[:, : (covered - k) // k + 1]
    else:
        audio = projected  # the course: every HuBERT frame; December 2025: the whole window's tokens
    decoder, tokenizer = reference_decoder(checkpoint, adapters)
    slots = 1 if checkpoint.era == "course" else audio.shape[1]
    user = {"course": config.get("user_prompt"), "conv": "Transcribe: " + AUDIO * slots,
            "current": AUDIO * slots + " " + TRANSCRIBE_PROMPT}[checkpoint.era]
    messages = ([{"role": "system", "content": config["system_prompt"]}] if config["system_prompt"] else [])
    messages.append({"role": "user", "content": user})
    thinking = {} if checkpoint.era == "conv" else {"enable_thinking": False}
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=True,
                                        return_tensors="pt", **thinking)["input_ids"]
    audio_id = tokenizer.convert_tokens_to_ids(AUDIO)
    embeds = decoder.get_input_embeddings()(ids)
    if checkpoint.era == "course":
        at = int((ids[0] == audio_id).nonzero()[0, 0])
        embeds = torch.cat([embeds[:, :at], audio, embeds[:, at + 1:]], dim=1)
    else:
        assert int((ids == audio_id).sum()) == audio.shape[1]
        embeds = embeds.masked_scatter((ids == audio_id)[..., None], audio)
    stops = [tokenizer.convert_tokens_to_ids(token) for token in STOPS[checkpoint.era]]
    min_new = config.get("min_new_tokens", 0) if checkpoint.era != "conv" else 0
    out = decoder.generate(inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long),
                           max_new_tokens=config["max_new_tokens"], min_new_tokens=min_new, do_sample=False,
                           num_beams=1, eos_token_id=stops, pad_token_id=stops[0])
    tokens = []
    for token in out[0].tolist():
        if token in stops:
            break
        tokens.append(token)
    return audio, tokens
