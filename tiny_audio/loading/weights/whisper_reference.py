"""The yardstick a converted Whisper tiny.en is held to: CTranslate2's own output on a clip.

The conversion only renames and splits tensors, so its faults are mapping faults, and shape checks
miss the worst of them: every attention projection is 384 × 384, so a transposed one, or swapped
key/value halves, fits every shape, and the model may still transcribe clear speech (a transposed
q_proj in the last decoder layer changes no token of the reference transcript). So the converted
model is run on one example clip and held to what CTranslate2, the runtime these weights were
made for, computed from the same log-mel features (recorded by scripts/make_whisper_reference.py):
its greedy transcript token for token, and its decoder logits at the top tokens of every step
within a tolerance scaled to those logits.

Measured (max |Δ logit| / max |reference logit|, which is 28):
  float32 noise: this conversion vs CTranslate2 itself 1.5e-6; every weight stored column-major
    1.5e-6; eager instead of SDPA attention 1.4e-6; every weight × (1 + 1e-5·N(0, 1)) 2.0e-5.
  real faults: one attention projection transposed (each of the 28 square ones in the first and
    last layers tried) 5.7e-2 to 0.91; one cross-attention's key/value halves swapped 0.46; one
    fc2 scaled by 1.05 1.2e-2. None leaves every logit within tolerance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

from tiny_audio.paths import EXAMPLES_DIR
from tiny_audio.pipeline.audio import SAMPLE_RATE, load_audio

# 50× above the largest float noise seen, 12× below the smallest fault above.
LOGIT_TOLERANCE = 1e-3
TOP_K = 32  # logits recorded per step: enough to see any fault, small enough to keep in the repo
REFERENCE_FILE = Path(__file__).with_name("whisper_tiny_en_reference.json")
CLIP = EXAMPLES_DIR / "report_piper.wav"


class WhisperConversionMismatch(ValueError):
    """The converted Whisper does not reproduce CTranslate2's output."""


@dataclass(frozen=True)
class WhisperReference:
    """CTranslate2's greedy decoding of ``CLIP``: the prompt, the tokens it chose (ending with
    <|endoftext|>) and, per step, its ``TOP_K`` best token ids and their logits."""

    clip_sha256: str
    prompt: list[int]
    tokens: list[int]
    top_ids: list[list[int]]
    top_logits: list[list[float]]

    @classmethod
    def load(cls, path: Path = REFERENCE_FILE) -> WhisperReference:
        fields = json.loads(Path(path).read_text())
        return cls(**{name: fields[name] for name in cls.__dataclass_fields__})


@dataclass
class WhisperComparison:
    max_delta: float = 0.0  # max |Δ logit| / max |reference logit|
    max_abs_delta: float = 0.0
    tokens: list[int] = field(default_factory=list)  # the candidate's choice at every step
    expected: list[int] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = []
        if self.max_delta > LOGIT_TOLERANCE:
            found.append(
                f"logits differ by up to {self.max_abs_delta:.3g} "
                f"({self.max_delta:.2g} of their scale; tolerance {LOGIT_TOLERANCE:g})"
            )
        if self.tokens != self.expected:
            found.append(f"greedy tokens {self.tokens} instead of {self.expected}")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()


def clip_sha256() -> str:
    return hashlib.sha256(CLIP.read_bytes()).hexdigest()


def reference_features(feature_extractor: WhisperFeatureExtractor) -> torch.Tensor:
    """Log-mel features [1, mels, frames] of ``CLIP``, padded to Whisper's 30 s window."""
    samples = load_audio(CLIP)
    return feature_extractor(samples, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features


@torch.inference_mode()
def compare(
    model: WhisperForConditionalGeneration,
    feature_extractor: WhisperFeatureExtractor,
    reference: WhisperReference | None = None,
) -> WhisperComparison:
    """Run ``model`` on the reference clip, teacher-forced along the reference transcript."""
    reference = reference or WhisperReference.load()
    if clip_sha256() != reference.clip_sha256:
        raise WhisperConversionMismatch(f"{CLIP} is not the clip the Whisper reference was recorded on.")
    features = reference_features(feature_extractor).to(model.dtype)
    decoder_input = torch.tensor([reference.prompt + reference.tokens[:-1]])
    logits = model(input_features=features, decoder_input_ids=decoder_input).logits[0, len(reference.prompt) - 1 :]
    logits = logits.float()
    expected = torch.tensor(reference.top_logits)
    delta = (logits.gather(1, torch.tensor(reference.top_ids)) - expected).abs().max().item()
    return WhisperComparison(
        max_delta=delta / expected.abs().max().item(),
        max_abs_delta=delta,
        tokens=logits.argmax(dim=-1).tolist(),
        expected=list(reference.tokens),
    )


def check_against_ctranslate2(
    model: WhisperForConditionalGeneration, feature_extractor: WhisperFeatureExtractor
) -> WhisperComparison:
    """``compare``, raising ``WhisperConversionMismatch`` unless the model passes."""
    result = compare(model, feature_extractor)
    if problems := result.problems():
        raise WhisperConversionMismatch(
            "The converted Whisper tiny.en does not reproduce CTranslate2's output: " + "; ".join(problems) + "."
        )
    return result
