"""The LLM's prompt around the audio: rendered once per model, embedded once per run.

Two prompt families: the course's ``<audio>`` slot after a system turn, and current Tiny
Audio's audio-first user turn. A checkpoint states its own system and user prompts (see
``checkpoint_prompt``); the nano model and the built-in styles use ``PROMPTS``, the nano model's
exactly as it was trained. Every prompt is rendered with the tokenizer's own chat template; the
projected audio frames take the place of the single marker. With a checkpoint's tokenizer, where
``<audio>`` is a special token (never merged with its neighbours), that gives the same ids as
Tiny Audio's prompt with one ``<audio>`` per audio frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

import torch

AUDIO_MARKER = "<audio>"

PROMPTS = {
    "course": [
        {"role": "system", "content": "/no_think /system_override"},
        {"role": "user", "content": f"Transcribe: {AUDIO_MARKER}"},
    ],
    "current": [
        {"role": "user", "content": f"{AUDIO_MARKER} Transcribe the speech to text"},
    ],
}


@dataclass(frozen=True)
class PromptSpec:
    """What to render: the family's name, the chat turns (one of them holds ``AUDIO_MARKER``
    once) and extra chat-template variables."""

    style: str
    messages: tuple[tuple[str, str], ...]
    template_kwargs: tuple[tuple[str, object], ...] = field(default=())


def builtin_prompt(style: str) -> PromptSpec:
    """One of ``PROMPTS``, rendered with no extra template variables."""
    if style not in PROMPTS:
        raise ValueError(f"prompt_style must be one of {sorted(PROMPTS)}, got {style!r}")
    return PromptSpec(style, tuple((m["role"], m["content"]) for m in PROMPTS[style]))


def checkpoint_prompt(style: str, system_prompt: Optional[str], user_prompt: str,
                      thinking_off: bool = True) -> PromptSpec:
    """A Tiny Audio checkpoint's prompt: no system turn when ``system_prompt`` is empty, and, with
    ``thinking_off``, ``enable_thinking=False`` as Tiny Audio renders it (Qwen3's template then
    ends the generation prompt with an empty think block)."""
    if user_prompt.count(AUDIO_MARKER) != 1:
        raise ValueError(f"the user prompt must hold {AUDIO_MARKER} once: {user_prompt!r}")
    messages = ((("system", system_prompt),) if system_prompt else ()) + (("user", user_prompt),)
    return PromptSpec(style, messages, (("enable_thinking", False),) if thinking_off else ())


class Prompt:
    """The token ids before and after the audio slot of one prompt."""

    def __init__(self, tokenizer, style: Union[str, PromptSpec], device: torch.device):
        spec = style if isinstance(style, PromptSpec) else builtin_prompt(style)
        messages = [{"role": role, "content": content} for role, content in spec.messages]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                             **dict(spec.template_kwargs))
        if text.count(AUDIO_MARKER) != 1:
            raise ValueError(f"the chat template must keep exactly one {AUDIO_MARKER} marker; got: {text!r}")
        before, after = text.split(AUDIO_MARKER)

        def ids(part: str) -> torch.Tensor:
            return tokenizer(part, add_special_tokens=False, return_tensors="pt")["input_ids"][0].to(device)

        self.spec = spec
        self.text = text
        self.prefix_ids, self.suffix_ids = ids(before), ids(after)

    @property
    def style(self) -> str:
        return self.spec.style

    def embed(self, embedding: torch.nn.Module, audio: torch.Tensor,
              answer_ids: Optional[list[int]] = None) -> torch.Tensor:
        """[prefix, audio [T, D], suffix, answer] as one [L, D] sequence of input embeddings."""
        parts = [embedding(self.prefix_ids), audio, embedding(self.suffix_ids)]
        if answer_ids:
            parts.append(embedding(torch.tensor(answer_ids, device=self.prefix_ids.device)))
        return torch.cat(parts)

    def length(self, audio_tokens: int) -> int:
        """Positions before the answer: prompt tokens plus audio tokens."""
        return len(self.prefix_ids) + audio_tokens + len(self.suffix_ids)
