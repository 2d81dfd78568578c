"""Tiny Audio checkpoints in every published layout, loaded natively and held to a reference
built from transformers and peft alone for the same weights: the audio tokens the LLM reads and
the greedy tokens. Nothing reaches the Hub; no code that ships with a checkpoint runs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from reference_pipeline import reference_run
from tiny_checkpoints import (
    qwen3_tokenizer,
    save_decoder,
    save_glm_asr,
    save_hubert,
    save_whisper,
    write_conv,
    write_course,
    write_current,
)
from tiny_models import speechlike, tiny_tokenizer

from tiny_audio import load_model
from tiny_audio.paths import ROOT
from tiny_audio.pipeline.stages import CONV_MLP_STAGES, MLP_STAGES, MLP_STAGES_WITHOUT_NORM_2, SWIGLU_STAGES

CLIP = speechlike(1.5, seed=11)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """The encoders and decoders the checkpoints point at, saved once."""
    root = tmp_path_factory.mktemp("parts")
    return {
        "glm": save_glm_asr(root / "glm-asr"),
        "whisper": save_whisper(root / "whisper"),
        "hubert": save_hubert(root / "hubert"),
        "qwen3": save_decoder(root / "qwen3", "qwen3", qwen3_tokenizer()),
        "smollm3": save_decoder(root / "smollm3", "smollm3", tiny_tokenizer()),
    }


def write(layout: str, parts, directory):
    if layout == "today":  # GLM-ASR tower, MLP with norm_2, Qwen3 with a PEFT adapter
        return write_current(directory, parts["glm"], parts["qwen3"], adapter=True)
    if layout == "mlp without norm_2":
        return write_current(directory, parts["glm"], parts["qwen3"], norm_2=False)
    if layout == "whisper, fine-tuned decoder":
        return write_current(directory, parts["whisper"], parts["qwen3"], full_decoder=True)
    if layout == "conv":
        return write_conv(directory, parts["whisper"], parts["smollm3"])
    return write_course(directory, parts["hubert"], parts["smollm3"])


STAGES = {"today": MLP_STAGES, "mlp without norm_2": MLP_STAGES_WITHOUT_NORM_2,
          "whisper, fine-tuned decoder": MLP_STAGES, "conv": CONV_MLP_STAGES, "course": SWIGLU_STAGES}


@pytest.mark.parametrize("layout", list(STAGES))
def test_each_layout_gives_the_audio_tokens_and_greedy_tokens_of_its_reference(parts, tmp_path, layout):
    checkpoint = write(layout, parts, tmp_path / "checkpoint")
    model = load_model(str(checkpoint.directory), device="cpu")
    expected_audio, expected_tokens = reference_run(checkpoint, CLIP)
    with torch.inference_mode():
        audio = model.project(model.encode(CLIP))
    torch.testing.assert_close(audio, expected_audio, rtol=1e-4, atol=1e-5)
    result = model.transcribe(CLIP)
    assert result.token_ids == expected_tokens
    assert len(set(expected_tokens)) > 3  # a real decoding to compare, not an immediate stop
    # Traced stage by stage, with the stage names of that projector.
    assert tuple(s.name for s in result.stages[1:1 + len(STAGES[layout])]) == STAGES[layout]
    assert checkpoint.sentinel is not None and not checkpoint.sentinel.exists()


@pytest.mark.parametrize("layout", ["today", "whisper, fine-tuned decoder", "course"])
def test_the_checkpoints_decoder_weights_change_the_tokens(parts, tmp_path, layout):
    """The comparison above would catch a loader that drops the adapter or the fine-tuned
    weights: without them the reference decodes differently."""
    checkpoint = write(layout, parts, tmp_path / "checkpoint")
    _, with_weights = reference_run(checkpoint, CLIP)
    _, without = reference_run(checkpoint, CLIP, adapters=False)
    assert with_weights != without
    assert load_model(str(checkpoint.directory), device="cpu").transcribe(CLIP, trace=False).token_ids == with_weights


LOAD_AND_PRINT = """
import json, sys
import numpy as np
from tiny_audio import load_model
model = load_model(sys.argv[1], device="cpu")
samples = np.load(sys.argv[2])
result = model.transcribe(samples)
print(json.dumps({"tokens": result.token_ids, "stages": [s.name for s in result.stages], "name": model.name}))
"""


def test_todays_checkpoint_loads_without_asking_and_matches_transformers_and_peft(parts, tmp_path):
    """The bar: GLM-ASR's audio tower, a Qwen3 decoder with a PEFT adapter, the MLP projector with
    norm_2, an auto_map in config.json. Loaded in a fresh process whose stdin would answer "y" to
    transformers' "run the custom code?" question: no question, no code run, the reference's tokens."""
    checkpoint = write("today", parts, tmp_path / "checkpoint")
    assert "auto_map" in json.loads((checkpoint.directory / "config.json").read_text())
    assert (checkpoint.directory / "asr_config.py").is_file()
    np.save(tmp_path / "clip.npy", CLIP)
    out = subprocess.run([sys.executable, "-c", LOAD_AND_PRINT, str(checkpoint.directory), str(tmp_path / "clip.npy")],
                         input="y\ny\ny\n", capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "custom code" not in out.stdout + out.stderr
    assert not checkpoint.sentinel.exists()
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    _, expected = reference_run(checkpoint, CLIP)
    assert loaded["tokens"] == expected
    assert "decoder LoRA adapter" in loaded["name"]
    assert tuple(loaded["stages"][1:7]) == MLP_STAGES


def test_todays_prompt_has_no_system_turn_one_slot_per_audio_token_and_the_empty_think_block(parts, tmp_path):
    checkpoint = write_current(tmp_path / "checkpoint", parts["glm"], parts["qwen3"])
    model = load_model(str(checkpoint.directory), device="cpu")
    text = model.prompt.text
    assert text == ("<|im_start|>user\n<audio> Transcribe the speech to text<|im_end|>\n"
                    "<|im_start|>assistant\n<think>\n\n</think>\n\n")
    # The checkpoint's template (patched to always emit the think block) and the decoder's own
    # (which needs enable_thinking=False) render the same prompt.
    from transformers import AutoTokenizer

    unpatched = AutoTokenizer.from_pretrained(parts["qwen3"])
    messages = [{"role": "user", "content": "<audio> Transcribe the speech to text"}]
    assert unpatched.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                         enable_thinking=False) == text
    assert unpatched.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) != text
    assert model.max_new_tokens == 128 and model.stop_ids == {
        model.tokenizer.convert_tokens_to_ids("<|im_end|>"), model.tokenizer.convert_tokens_to_ids("<|endoftext|>")}


def test_the_system_and_user_prompts_come_from_config_json(parts, tmp_path):
    checkpoint = write_current(tmp_path / "checkpoint", parts["whisper"], parts["qwen3"],
                               system_prompt="Be brief.", user_prompt="Write down: <audio>", max_new_tokens=7)
    model = load_model(str(checkpoint.directory), device="cpu")
    assert model.prompt.text.startswith(
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWrite down: <audio>")
    assert len(model.transcribe(CLIP, trace=False).token_ids) <= 7


def test_an_adapter_that_use_lora_turns_off_is_not_applied_and_the_model_says_so(parts, tmp_path):
    checkpoint = write_current(tmp_path / "checkpoint", parts["glm"], parts["qwen3"], adapter=True, use_lora=False)
    model = load_model(str(checkpoint.directory), device="cpu")
    assert "use_lora: false" in model.notice and "LoRA" not in model.name
    _, plain = reference_run(checkpoint, CLIP)  # the reference, like Tiny Audio, skips the adapter too
    assert model.transcribe(CLIP, trace=False).token_ids == plain


def test_weights_that_cannot_be_applied_are_refused_by_name(parts, tmp_path):
    from safetensors.torch import load_file, save_file

    checkpoint = write_current(tmp_path / "adapter", parts["glm"], parts["qwen3"], adapter=True)
    path = checkpoint.directory / "adapter_model.safetensors"
    state = load_file(path)
    key = next(key for key in state if "q_proj" in key)
    state[key.replace("q_proj", "query")] = state.pop(key)
    save_file(state, path)
    with pytest.raises(ValueError, match="adapter_model.safetensors .*query"):
        load_model(str(checkpoint.directory), device="cpu")

    checkpoint = write_current(tmp_path / "tower", parts["glm"], parts["qwen3"])
    path = checkpoint.directory / "model.safetensors"
    save_file({**load_file(path), "audio_tower.conv1.weight": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="'audio_tower.'"):
        load_model(str(checkpoint.directory), device="cpu")

    checkpoint = write_current(tmp_path / "decoder", parts["whisper"], parts["qwen3"], full_decoder=True)
    state = load_file(path := checkpoint.directory / "model.safetensors")
    state.pop(next(key for key in state if key.startswith("language_model.") and "mlp" in key))
    save_file(state, path)
    with pytest.raises(ValueError, match="lacks 'language_model.model.layers"):
        load_model(str(checkpoint.directory), device="cpu")

    checkpoint = write_course(tmp_path / "course", parts["hubert"], parts["smollm3"])
    (checkpoint.directory / "decoder.safetensors").unlink()
    with pytest.raises(ValueError, match="decoder.safetensors is missing"):
        load_model(str(checkpoint.directory), device="cpu")


def test_course_lora_weights_without_their_settings_are_not_applied_and_the_model_says_so(parts, tmp_path):
    checkpoint = write_course(tmp_path / "course", parts["hubert"], parts["smollm3"])
    (checkpoint.directory / "decoder_lora_config.json").unlink()
    model = load_model(str(checkpoint.directory), device="cpu")
    assert "decoder.safetensors is not applied" in model.notice
    assert "encoder LoRA" in model.name and "decoder LoRA" not in model.name


@pytest.mark.parametrize("setting, message", [
    ({"projector_type": "qformer"}, "projector_type 'qformer'"),
    ({"do_sample": True}, "do_sample=True"),
    ({"repetition_penalty": 1.1}, "repetition_penalty=1.1"),
    ({"no_repeat_ngram_size": 3}, "no_repeat_ngram_size=3"),
])
def test_settings_this_app_cannot_honour_are_refused_by_name(parts, tmp_path, setting, message):
    checkpoint = write_current(tmp_path / "checkpoint", parts["whisper"], parts["qwen3"], **setting)
    with pytest.raises(ValueError, match=message):
        load_model(str(checkpoint.directory), device="cpu")
