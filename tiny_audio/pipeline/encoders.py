"""Speech encoders behind one small interface: waveform → features → frames [1, T, D].

Three families, as Tiny Audio uses them:
- Whisper: log-mel features padded to 30 s (as Whisper was trained). With ``window="full"`` the
  encoder runs on the whole window and only the frames that cover real audio are kept; with
  ``window="trimmed"`` it runs on those mel frames alone, its positional table cut to match
  (whisper.cpp's ``audio_ctx`` does the same): about 7x less work for a 4 s clip. The two give
  different frames (cosine about 0.985), so a projector must be trained on the path it is used
  with; the nano projector is trained on the trimmed one.
  ``window="padded"`` keeps every frame of the 30 s window, padding included: December 2025's
  Tiny Audio checkpoints read all of them.
- GLM-ASR's audio tower (``GlmAsrEncoder``, transformers' own class): a Whisper-like encoder
  with rotary positions, fed 128-bin log-mel features of the 30 s window as Tiny Audio's
  pipeline computes them; the frames that cover real audio are kept.
- wav2vec2 / HuBERT: the normalised raw waveform; every output frame is real audio.
All give about 50 frames per second (one frame per 320 samples at 16 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from tiny_audio.pipeline.audio import SAMPLE_RATE

SAMPLES_PER_FRAME = 320  # 20 ms at 16 kHz
FRAME_MS = 1000 * SAMPLES_PER_FRAME / SAMPLE_RATE  # audio per encoder frame
WHISPER_WINDOW_SECONDS = 30.0
LOG_MEL_KINDS = ("whisper", "glmasr")  # encoders fed log-mel features of a 30 s window
WINDOWS = {"whisper": ("full", "trimmed", "padded"), "glmasr": ("full", "padded"), "wav2vec2": ("full",)}


@dataclass
class SpeechEncoder:
    model: nn.Module  # a WhisperEncoder, a GlmAsrEncoder, or a Wav2Vec2/HuBERT base model
    feature_extractor: object
    kind: str  # "whisper", "glmasr" or "wav2vec2"
    name: str = ""
    compiled: Optional[Callable] = None  # torch.compile(model), when asked for
    # Log-mel encoders: "full" (30 s, the real audio's frames kept), "padded" (30 s, every frame
    # kept) or, Whisper only, "trimmed" (just the audio).
    window: str = "full"

    def compile(self) -> None:
        """Fuse the encoder's kernels with torch.compile (dynamic shapes: clips vary in length).
        Only the full-window path uses it; the trimmed path runs the layers one by one."""
        self.compiled = torch.compile(self.model, dynamic=True)

    @property
    def dim(self) -> int:
        config = self.model.config
        return int(getattr(config, "d_model", None) or config.hidden_size)

    @property
    def frame_ms(self) -> float:
        """Audio per output frame."""
        return FRAME_MS

    @property
    def max_seconds(self) -> float:
        # Whisper's positional table covers exactly 30 s; the waveform encoders have no hard
        # limit, but attention memory grows with the square of the length, so they get the same.
        return WHISPER_WINDOW_SECONDS

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def features(self, audio: np.ndarray) -> torch.Tensor:
        """Waveform (16 kHz mono float32) → the encoder's input tensor, on its device."""
        out = self.feature_extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        values = out["input_features"] if self.kind in LOG_MEL_KINDS else out["input_values"]
        return values.to(device=self.device, dtype=self.dtype)

    def frames(self, audio: np.ndarray, clock=None) -> torch.Tensor:
        """Waveform (16 kHz mono float32) → [1, T, D] frames: ``features`` then ``encode``, the
        two steps timed apart on ``clock`` (a ``decoding.Clock``) when one is given. Inference
        and the training chain's encoder cache both come through here."""
        features = self.features(audio)
        if clock:
            clock.lap("features")
        frames = self.encode(features, audio.size)
        if clock:
            clock.lap("encoder")
        return frames

    def encode(self, features: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Features → [1, T, D] frames covering the real audio."""
        if self.kind == "whisper" and self.window == "trimmed":
            return self._encode_trimmed(features, num_samples)
        forward = self.compiled if self.compiled is not None else self.model
        frames = forward(features).last_hidden_state
        if self.kind in LOG_MEL_KINDS and self.window != "padded":
            keep = min(frames.shape[1], -(-num_samples // SAMPLES_PER_FRAME))
            frames = frames[:, :keep]
        return frames

    def _encode_trimmed(self, features: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Whisper's encoder, step by step, on only the mel frames that cover the audio."""
        encoder = self.model
        positions = encoder.embed_positions.weight
        keep = max(1, min(positions.shape[0], -(-num_samples // SAMPLES_PER_FRAME)))
        mel = features[..., : 2 * keep]  # the second convolution halves the frame rate
        hidden = nn.functional.gelu(encoder.conv1(mel))
        hidden = nn.functional.gelu(encoder.conv2(hidden)).permute(0, 2, 1)
        hidden = hidden + positions[: hidden.shape[1]]
        for layer in encoder.layers:
            hidden = layer(hidden, None)
        return encoder.layer_norm(hidden)


def whisper_feature_extractor(n_mels: int = 80):
    """Whisper's log-mel front end with its published defaults (25 ms / 10 ms frames, 30 s
    window), built locally: nothing to download."""
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(
        feature_size=n_mels, sampling_rate=SAMPLE_RATE, hop_length=160, chunk_length=30, n_fft=400
    )


def waveform_feature_extractor():
    """wav2vec2 / HuBERT front end: zero-mean, unit-variance raw waveform."""
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )


def encoder_from_model(model: nn.Module, name: str = "", window: str = "full",
                       feature_extractor: Optional[object] = None) -> SpeechEncoder:
    """Wrap a loaded encoder model. Accepts a whole Whisper model (its encoder is taken), a
    GLM-ASR model (its audio tower is taken) or its tower alone, or any wav2vec2-style base model;
    the model's config decides which front end it gets (``feature_extractor`` replaces the
    default one). ``window``: see the module's docstring."""
    model_type = getattr(model.config, "model_type", "")
    if model_type == "whisper":
        kind = "whisper"
        model = model.get_encoder() if hasattr(model, "get_encoder") else model
    elif model_type in ("glmasr", "glmasr_encoder"):
        kind = "glmasr"
        model = _audio_tower(model) if model_type == "glmasr" else model
    else:
        kind = "wav2vec2"
    if window not in WINDOWS[kind]:
        raise ValueError(f"window must be one of {WINDOWS[kind]} for a {kind} encoder, not {window!r}")
    if feature_extractor is None:
        mel_bins = getattr(model.config, "num_mel_bins", 80)
        feature_extractor = waveform_feature_extractor() if kind == "wav2vec2" else whisper_feature_extractor(mel_bins)
    return SpeechEncoder(model.eval(), feature_extractor, kind, name, window=window)


def _audio_tower(model: nn.Module) -> nn.Module:
    """GLM-ASR's audio tower, from ``GlmAsrForConditionalGeneration`` or ``GlmAsrModel``."""
    inner = getattr(model, "model", model)
    return inner.audio_tower


def load_encoder(model_id: str, dtype: torch.dtype = torch.float32, window: str = "full") -> SpeechEncoder:
    """Any encoder by Hub id or local directory (Whisper, GLM-ASR, HuBERT, wav2vec2, ...), with
    transformers' own classes: never code that comes with the model."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(model_id, trust_remote_code=False)
    extractor = None
    if config.model_type == "whisper":
        from transformers import WhisperModel

        model = WhisperModel.from_pretrained(model_id, dtype=dtype, trust_remote_code=False)
    elif config.model_type in ("glmasr", "glmasr_encoder"):
        from transformers import AutoFeatureExtractor, GlmAsrEncoder, GlmAsrForConditionalGeneration

        # The whole GLM-ASR model loads (its LLM included: the tower's weights sit in the same
        # files, under names transformers maps on load), then only the audio tower is kept.
        cls = GlmAsrForConditionalGeneration if config.model_type == "glmasr" else GlmAsrEncoder
        whole = cls.from_pretrained(model_id, dtype=dtype, trust_remote_code=False)
        model = _audio_tower(whole) if config.model_type == "glmasr" else whole
        del whole
        extractor = AutoFeatureExtractor.from_pretrained(model_id, trust_remote_code=False)
    else:
        # A CTC checkpoint (e.g. hubert-xlarge-ls960-ft) loads into its base model; the CTC head
        # is not part of an audio LLM.
        model = AutoModel.from_pretrained(model_id, dtype=dtype, trust_remote_code=False)
    return encoder_from_model(model, model_id, window=window, feature_extractor=extractor)
