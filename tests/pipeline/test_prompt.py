"""Prompts: the nano model's exactly as it was trained, a checkpoint's from its own settings."""

import pytest
import torch
from tiny_models import tiny_tokenizer

from tiny_audio.pipeline.prompt import PROMPTS, Prompt, builtin_prompt, checkpoint_prompt

QWEN3_STYLE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)
# The text the nano projector and its LoRA were trained on, through a ChatML template.
NANO_PROMPT = ("<|im_start|>system\n/no_think /system_override<|im_end|>\n"
               "<|im_start|>user\nTranscribe: <audio><|im_end|>\n<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def qwen3_style():
    """The tiny tokenizer with a chat template that adds a think block when told thinking is off."""
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = QWEN3_STYLE
    return tokenizer


def test_the_course_prompt_that_nano_was_trained_on_is_unchanged(tokenizer, qwen3_style):
    for chat in (tokenizer, qwen3_style):  # no template variable reaches it, thinking or not
        prompt = Prompt(chat, "course", torch.device("cpu"))
        assert prompt.text == NANO_PROMPT
        before, after = NANO_PROMPT.split("<audio>")
        assert prompt.prefix_ids.tolist() == chat(before, add_special_tokens=False).input_ids
        assert prompt.suffix_ids.tolist() == chat(after, add_special_tokens=False).input_ids
    assert builtin_prompt("course").template_kwargs == ()
    assert [dict(role=r, content=c) for r, c in builtin_prompt("course").messages] == PROMPTS["course"]


def test_a_checkpoint_prompt_turns_thinking_off_and_drops_an_empty_system_turn(qwen3_style):
    spec = checkpoint_prompt("current", "", "<audio> Transcribe the speech to text")
    text = Prompt(qwen3_style, spec, torch.device("cpu")).text
    assert text == ("<|im_start|>user\n<audio> Transcribe the speech to text<|im_end|>\n"
                    "<|im_start|>assistant\n<think>\n\n</think>\n\n")
    kept = Prompt(qwen3_style, checkpoint_prompt("course", "be brief", "Transcribe: <audio>", thinking_off=False),
                  torch.device("cpu")).text
    assert kept == ("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nTranscribe: <audio><|im_end|>\n"
                    "<|im_start|>assistant\n")
    with pytest.raises(ValueError, match="<audio> once"):
        checkpoint_prompt("current", "", "Transcribe the speech")


@pytest.mark.integration
def test_the_nano_model_renders_its_training_prompt_with_its_own_tokenizer():
    from tiny_audio import load_model

    model = load_model()
    assert model.prompt.text == NANO_PROMPT
    before, after = NANO_PROMPT.split("<audio>")
    assert model.prompt.prefix_ids.tolist() == model.tokenizer(before, add_special_tokens=False).input_ids
    assert model.prompt.suffix_ids.tolist() == model.tokenizer(after, add_special_tokens=False).input_ids
