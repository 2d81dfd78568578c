"""Tiny Tiny Audio checkpoints in each published layout, written the way Tiny Audio's own save
path writes them: the same file names, keys and config.json fields (``auto_map`` and the
checkpoint's Python files included), its tokenizer with ``<audio>`` added and its chat template
patched as its training script patches it, adapters saved with ``peft``. The encoders and
decoders they point at are tiny random models saved to local directories: nothing reaches the Hub.

Layouts (``Checkpoint.era``):
- "course" (2025-11): HuBERT → SwiGLU → SmolLM3; ``projector.safetensors``; LoRA weights in
  ``decoder.safetensors`` / ``encoder.safetensors`` with ``*_lora_config.json``.
- "conv" (2025-12): Whisper → strided-convolution MLP → SmolLM3; ``model.safetensors``.
- "current" (2026): GLM-ASR's audio tower or Whisper → frame-stacking MLP (with or without
  ``norm_2``) → Qwen3; ``model.safetensors`` (``projector.*``, and ``language_model.*`` for a
  fine-tuned decoder); a PEFT adapter in ``adapter_model.safetensors`` + ``adapter_config.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
from safetensors.torch import save_file
from tiny_models import tiny_hubert, tiny_tokenizer, tiny_whisper

AUDIO = "<audio>"
# A Qwen3-style chat template: the generation prompt gets an empty think block only when
# enable_thinking is false (Tiny Audio's training script rewrites that test to "true").
THINKING_TEST = "enable_thinking is defined and enable_thinking is false"
QWEN3_STYLE_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if " + THINKING_TEST + " %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)
REMOTE_CODE_FILES = ("asr_config.py", "asr_modeling.py", "asr_processing.py", "asr_pipeline.py", "projectors.py")
AUTO_MAP = {
    "AutoConfig": "asr_config.ASRConfig",
    "AutoModel": "asr_modeling.ASRModel",
    "AutoModelForSpeechSeq2Seq": "asr_modeling.ASRModel",
    "AutoProcessor": "asr_processing.ASRProcessor",
}
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class Checkpoint:
    directory: Path
    era: str
    encoder_dir: Path
    decoder_dir: Path
    config: dict
    projector: dict[str, torch.Tensor]  # bare keys
    decoder_state: dict[str, torch.Tensor] = field(default_factory=dict)  # language_model.* without the prefix
    sentinel: Optional[Path] = None  # written if any of the checkpoint's Python files ever runs


# ----- encoders and decoders ---------------------------------------------------------------------


def qwen3_tokenizer():
    """The tiny tokenizer with Qwen3's think tokens and a Qwen3-style chat template."""
    tokenizer = tiny_tokenizer()
    tokenizer.add_tokens(["<think>", "</think>"])
    tokenizer.chat_template = QWEN3_STYLE_TEMPLATE
    return tokenizer


def save_glm_asr(directory: Path, hidden: int = 32, seed: int = 0) -> Path:
    """A whole tiny GLM-ASR model (audio tower, its projector, its own Llama) and its 128-bin
    log-mel feature extractor, as the GLM-ASR repository holds them."""
    from transformers import GlmAsrConfig, GlmAsrForConditionalGeneration, WhisperFeatureExtractor

    torch.manual_seed(seed)
    config = GlmAsrConfig(
        audio_config=dict(model_type="glmasr_encoder", hidden_size=hidden, intermediate_size=4 * hidden,
                          num_hidden_layers=2, num_attention_heads=4, num_mel_bins=128),
        text_config=dict(model_type="llama", vocab_size=320, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2),
        audio_token_id=319,
    )
    GlmAsrForConditionalGeneration(config).eval().save_pretrained(directory)
    WhisperFeatureExtractor(feature_size=128).save_pretrained(directory)
    return directory


def save_whisper(directory: Path, seed: int = 0) -> Path:
    from transformers import WhisperFeatureExtractor

    tiny_whisper(seed=seed).save_pretrained(directory)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(directory)
    return directory


def save_hubert(directory: Path, seed: int = 0) -> Path:
    from transformers import Wav2Vec2FeatureExtractor

    tiny_hubert(seed=seed).save_pretrained(directory)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(directory)
    return directory


def save_decoder(directory: Path, kind: str, tokenizer, seed: int = 1) -> Path:
    """A tiny Qwen3 or SmolLM3 (tied embeddings, as Qwen3-0.6B and SmolLM3-3B) with its tokenizer.
    A large initialiser keeps greedy decoding clear of near-ties."""
    from transformers import Qwen3Config, Qwen3ForCausalLM, SmolLM3Config, SmolLM3ForCausalLM

    torch.manual_seed(seed)
    shape = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                 tie_word_embeddings=True, initializer_range=0.3, pad_token_id=0, bos_token_id=0,
                 eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
    if kind == "qwen3":
        model = Qwen3ForCausalLM(Qwen3Config(head_dim=16, **shape))
    else:
        model = SmolLM3ForCausalLM(SmolLM3Config(**shape))
    model.eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


# ----- what Tiny Audio's save path writes --------------------------------------------------------


def _with_audio_token(decoder_dir: Path):
    """Tiny Audio's decoder set-up: the decoder's tokenizer gets ``<audio>`` and the embeddings
    are resized with mean resizing."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(decoder_dir)
    decoder = AutoModelForCausalLM.from_pretrained(decoder_dir)
    tokenizer.add_special_tokens({"additional_special_tokens": [AUDIO]}, replace_extra_special_tokens=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        decoder.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return decoder, tokenizer


def _write_common(directory: Path, config: dict, tokenizer, feature_extractor_dir: Path) -> Path:
    """config.json with its auto_map, the tokenizer, the processor config, and the Python files
    Tiny Audio copies into every checkpoint (here: code that leaves a sentinel if it ever runs)."""
    from transformers import AutoFeatureExtractor

    directory.mkdir(parents=True, exist_ok=True)
    config = {**config, "model_type": "asr_model", "auto_map": AUTO_MAP, "architectures": ["ASRModel"],
              "pipeline_tag": "automatic-speech-recognition",
              "custom_pipelines": {"automatic-speech-recognition": {"impl": "asr_pipeline.ASRPipeline",
                                                                   "pt": ["AutoModelForSpeechSeq2Seq"], "tf": [],
                                                                   "type": "audio"}}}
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    tokenizer.save_pretrained(directory)
    AutoFeatureExtractor.from_pretrained(feature_extractor_dir).save_pretrained(directory)
    processor = json.loads((directory / "preprocessor_config.json").read_text())
    processor.update(processor_class="ASRProcessor", auto_map={"AutoProcessor": "asr_processing.ASRProcessor"})
    (directory / "preprocessor_config.json").write_text(json.dumps(processor, indent=2))
    sentinel = directory / "REMOTE_CODE_RAN"
    for name in REMOTE_CODE_FILES:
        (directory / name).write_text(f"open({str(sentinel)!r}, 'w').write({name!r})\n")
    return sentinel


def _random(shape, scale: float = 0.2, offset: float = 0.0) -> torch.Tensor:
    return (offset + scale * torch.randn(*shape)).contiguous()


def mlp_projector_state(encoder_dim: int, llm_dim: int, k: int, hidden: int, norm_2: bool = True, seed: int = 2):
    torch.manual_seed(seed)
    state = {"linear_1.weight": _random((hidden, k * encoder_dim), 0.1), "norm.weight": _random((hidden,), 0.1, 1.0),
             "linear_2.weight": _random((llm_dim, hidden), 0.1)}
    if norm_2:
        state["norm_2.weight"] = _random((llm_dim,), 0.1, 1.0)
    return state


def generation_fields(max_new_tokens: int = 128, min_new_tokens: int = 0) -> dict:
    return {"num_beams": 1, "max_new_tokens": max_new_tokens, "min_new_tokens": min_new_tokens,
            "repetition_penalty": 1.0, "length_penalty": 1.0, "no_repeat_ngram_size": 0, "use_cache": True,
            "do_sample": False, "temperature": None, "top_p": None, "top_k": None}


def write_current(directory: Path, encoder_dir: Path, decoder_dir: Path, *, norm_2: bool = True,
                  adapter: bool = False, full_decoder: bool = False, k: int = 4, hidden: int = 48,
                  use_lora: Optional[bool] = None, **overrides) -> Checkpoint:
    """Today's layout (GLM-ASR or Whisper → MLP → Qwen3), optionally with a PEFT adapter or the
    whole fine-tuned decoder."""
    from transformers import AutoConfig

    decoder, tokenizer = _with_audio_token(decoder_dir)
    tokenizer.chat_template = tokenizer.chat_template.replace(THINKING_TEST, "true")  # as train.py does
    audio_config = AutoConfig.from_pretrained(encoder_dir)
    tower_config = getattr(audio_config, "audio_config", audio_config)
    encoder_dim = getattr(tower_config, "hidden_size", None) or tower_config.d_model
    llm_dim = decoder.config.hidden_size
    projector = mlp_projector_state(encoder_dim, llm_dim, k, hidden, norm_2)
    config = {"audio_model_id": str(encoder_dir), "text_model_id": str(decoder_dir),
              "attn_implementation": "sdpa", "model_dtype": "bfloat16", "system_prompt": "",
              "encoder_dim": encoder_dim, "llm_dim": llm_dim, "encoder_conv_layers": [[1, 3, 1], [1, 3, 2]],
              "audio_sample_rate": 16000, "projector_pool_stride": k, "downsample_rate": 5,
              "projector_hidden_dim": hidden, "projector_type": "mlp", "audio_token_dropout": 0.0,
              "use_lora": adapter if use_lora is None else use_lora, "lora_rank": 4, "lora_alpha": 16,
              "lora_dropout": 0.0, "lora_target_modules": LORA_TARGETS, "freeze_projector": adapter,
              "freeze_language_model": not full_decoder, "vocab_size": len(tokenizer),
              "audio_config": audio_config.to_dict(), "text_config": decoder.config.to_dict(),
              **generation_fields(), **overrides}
    checkpoint = Checkpoint(directory, "current", encoder_dir, decoder_dir, config, projector)
    checkpoint.sentinel = _write_common(directory, config, tokenizer, encoder_dir)
    weights = {f"projector.{key}": value for key, value in projector.items()}
    if full_decoder:
        torch.manual_seed(5)
        with torch.no_grad():
            for parameter in decoder.parameters():
                parameter.add_(0.3 * torch.randn_like(parameter))
        seen: set[int] = set()
        for key, value in decoder.state_dict().items():
            if value.data_ptr() not in seen:  # a tied copy is saved once, as save_pretrained does
                seen.add(value.data_ptr())
                checkpoint.decoder_state[key] = value.clone().contiguous()
        weights.update({f"language_model.{key}": value for key, value in checkpoint.decoder_state.items()})
    save_file(weights, directory / "model.safetensors")
    if adapter:
        _save_peft_adapter(decoder, directory)
    return checkpoint


def _save_peft_adapter(decoder, directory: Path) -> None:
    """A LoRA on every linear layer, saved by peft without embedding layers; Tiny Audio then
    blanks base_model_name_or_path."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(6)
    config = LoraConfig(r=4, lora_alpha=16, target_modules=LORA_TARGETS, lora_dropout=0.0, bias="none",
                        task_type="CAUSAL_LM", init_lora_weights=False)
    get_peft_model(decoder, config).save_pretrained(directory, save_embedding_layers=False)
    path = directory / "adapter_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "base_model_name_or_path": ""}, indent=2))


def write_conv(directory: Path, encoder_dir: Path, decoder_dir: Path) -> Checkpoint:
    """December 2025's layout: Whisper → convolutional MLP → SmolLM3."""
    from transformers import AutoConfig

    decoder, tokenizer = _with_audio_token(decoder_dir)
    audio_config = AutoConfig.from_pretrained(encoder_dir)
    encoder_dim, llm_dim = audio_config.d_model, decoder.config.hidden_size
    torch.manual_seed(3)
    projector = {"downsample.weight": _random((encoder_dim, encoder_dim, 3), 0.1),
                 "linear_1.weight": _random((llm_dim, encoder_dim), 0.2),
                 "linear_2.weight": _random((llm_dim, llm_dim), 0.2)}
    config = {"audio_model_id": str(encoder_dir), "text_model_id": str(decoder_dir), "attn_implementation": "sdpa",
              "model_dtype": "bfloat16", "system_prompt": "/no_think /system_override",
              "user_prompt": "Transcribe: <audio>", "encoder_dim": encoder_dim, "llm_dim": llm_dim,
              "audio_sample_rate": 16000, "projector_init_std": 0.02, "projector_pool_stride": 2,
              "downsample_rate": 16, "projector_hidden_dim": None, "projector_type": "mlp",
              "projector_num_layers": 2, "projector_dropout": 0.05, "projector_input_noise": 0.02,
              "use_specaugment": True, "label_smoothing": 0.0, "vocab_size": len(tokenizer),
              "audio_config": audio_config.to_dict(), "text_config": decoder.config.to_dict(),
              **generation_fields(max_new_tokens=96)}
    config.pop("do_sample")
    checkpoint = Checkpoint(directory, "conv", encoder_dir, decoder_dir, config, projector)
    checkpoint.sentinel = _write_common(directory, config, tokenizer, encoder_dir)
    save_file({f"projector.{key}": value for key, value in projector.items()}, directory / "model.safetensors")
    return checkpoint


def write_course(directory: Path, encoder_dir: Path, decoder_dir: Path, *, k: int = 5, hidden: int = 64) -> Checkpoint:
    """The course's layout: HuBERT → SwiGLU → SmolLM3, LoRA on both encoder and decoder."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoConfig, HubertModel

    decoder, tokenizer = _with_audio_token(decoder_dir)
    audio_config = AutoConfig.from_pretrained(encoder_dir)
    encoder_dim, llm_dim = audio_config.hidden_size, decoder.config.hidden_size
    torch.manual_seed(4)
    projector = {"ln_pre.weight": _random((k * encoder_dim,), 0.1, 1.0),
                 "gate_proj.weight": _random((hidden, k * encoder_dim), 0.1),
                 "up_proj.weight": _random((hidden, k * encoder_dim), 0.1),
                 "down_proj.weight": _random((llm_dim, hidden), 0.1),
                 "ln_post.weight": _random((llm_dim,), 0.1, 1.0)}
    config = {"audio_model_id": str(encoder_dir), "text_model_id": str(decoder_dir), "attn_implementation": "sdpa",
              "model_dtype": "bfloat16", "audio_downsample_rate": k, "system_prompt": "/no_think /system_override",
              "user_prompt": "Transcribe: <audio>", "encoder_dim": encoder_dim, "llm_dim": llm_dim,
              "projector_hidden_dim": hidden, "audio_sample_rate": 16000, "projector_init_std": 0.02,
              "lora_default_dropout": 0.0, "inference_diversity_penalty": 0.5, "inference_warmup_tokens": 10,
              "num_beams": 1, "max_new_tokens": 128, "min_new_tokens": 1, "do_sample": False, "temperature": 0.0,
              "top_k": 0, "top_p": 0.8, "repetition_penalty": 1.0, "length_penalty": 1.0, "no_repeat_ngram_size": 0,
              "early_stopping": True, "use_cache": False, "vocab_size": len(tokenizer),
              "audio_config": audio_config.to_dict(), "text_config": decoder.config.to_dict()}
    checkpoint = Checkpoint(directory, "course", encoder_dir, decoder_dir, config, projector)
    checkpoint.sentinel = _write_common(directory, config, tokenizer, encoder_dir)
    save_file(projector, directory / "projector.safetensors")
    parts = {
        "decoder": (decoder, {"peft_method": "lora", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"],
                              "lora_dropout": 0.0}, TaskType.CAUSAL_LM),
        "encoder": (HubertModel.from_pretrained(encoder_dir),
                    {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj"]}, TaskType.FEATURE_EXTRACTION),
    }
    torch.manual_seed(7)
    for part, (module, settings, task) in parts.items():
        lora = LoraConfig(r=settings["r"], lora_alpha=settings["lora_alpha"], target_modules=settings["target_modules"],
                          task_type=task, init_lora_weights=False)
        model = get_peft_model(module, lora)
        trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
        save_file({name: tensor.contiguous() for name, tensor in model.state_dict().items() if name in trainable},
                  directory / f"{part}.safetensors")
        (directory / f"{part}_lora_config.json").write_text(json.dumps(settings, indent=2))
    return checkpoint
