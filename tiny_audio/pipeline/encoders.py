"""Speech encoders behind one small interface: waveform → features → frames [1, T, D].

Two families, as Tiny Audio uses them:
- Whisper: log-mel features padded to 30 s (as Whisper was trained). With ``window="full"`` the
  encoder runs on the whole window and only the frames that cover real audio are kept; with
  ``window="trimmed"`` it runs on those mel frames alone, its positional table cut to match
  (whisper.cpp's ``audio_ctx`` does the same): about 7x less work for a 4 s clip. The two give
  different frames (cosine about 0.985), so a projector must be trained on the path it is used
  with; the nano projector is trained on the trimmed one.
- wav2vec2 / HuBERT: the normalised raw waveform; every output frame is real audio.
Both give about 50 frames per second (one frame per 320 samples at 16 kHz).
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


@dataclass
class SpeechEncoder:
    model: nn.Module  # a WhisperEncoder, or a Wav2Vec2/HuBERT base model
    feature_extractor: object
    kind: str  # "whisper" or "wav2vec2"
    name: str = ""
    compiled: Optional[Callable] = None  # torch.compile(model), when asked for
    window: str = "full"  # Whisper only: "full" (30 s) or "trimmed" (just the audio)

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
        if self.kind == "whisper":
            out = self.feature_extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt")
            values = out["input_features"]
        else:
            out = self.feature_extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt")
            values = out["input_values"]
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
        if self.kind == "whisper":
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


def encoder_from_model(model: nn.Module, name: str = "", window: str = "full") -> SpeechEncoder:
    """Wrap a loaded encoder model. Accepts a whole Whisper model (its encoder is taken) or any
    wav2vec2-style base model; the model's config decides which front end it gets. ``window``
    picks Whisper's full 30 s pass or the trimmed one (see the module's docstring)."""
    if window not in ("full", "trimmed"):
        raise ValueError(f"window must be 'full' or 'trimmed', not {window!r}")
    model_type = getattr(model.config, "model_type", "")
    if model_type == "whisper":
        encoder = model.get_encoder() if hasattr(model, "get_encoder") else model
        extractor = whisper_feature_extractor(getattr(model.config, "num_mel_bins", 80))
        return SpeechEncoder(encoder.eval(), extractor, "whisper", name, window=window)
    return SpeechEncoder(model.eval(), waveform_feature_extractor(), "wav2vec2", name)


def load_encoder(model_id: str, dtype: torch.dtype = torch.float32) -> SpeechEncoder:
    """Any encoder by Hub id or local directory (Whisper, HuBERT, wav2vec2, ...)."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(model_id)
    if config.model_type == "whisper":
        from transformers import WhisperModel

        model = WhisperModel.from_pretrained(model_id, dtype=dtype)
    else:
        # A CTC checkpoint (e.g. hubert-xlarge-ls960-ft) loads into its base model; the CTC head
        # is not part of an audio LLM.
        model = AutoModel.from_pretrained(model_id, dtype=dtype)
    return encoder_from_model(model, model_id)
