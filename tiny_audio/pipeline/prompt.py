"""The LLM's prompt around the audio: rendered once per model, embedded once per run.

Two prompt styles: the course's single ``<audio>`` slot after a system turn, and
current Tiny Audio's audio-first user turn. Both are rendered with the tokenizer's own chat
template; the projected audio frames take the place of the marker.
"""

from __future__ import annotations

from typing import Optional

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


class Prompt:
    """The token ids before and after the audio slot of one prompt style."""

    def __init__(self, tokenizer, style: str, device: torch.device):
        if style not in PROMPTS:
            raise ValueError(f"prompt_style must be one of {sorted(PROMPTS)}, got {style!r}")
        text = tokenizer.apply_chat_template(PROMPTS[style], tokenize=False, add_generation_prompt=True)
        if text.count(AUDIO_MARKER) != 1:
            raise ValueError(f"the chat template must keep exactly one {AUDIO_MARKER} marker; got: {text!r}")
        before, after = text.split(AUDIO_MARKER)

        def ids(part: str) -> torch.Tensor:
            return tokenizer(part, add_special_tokens=False, return_tensors="pt")["input_ids"][0].to(device)

        self.style = style
        self.prefix_ids, self.suffix_ids = ids(before), ids(after)

    def embed(self, embedding: torch.nn.Module, audio: torch.Tensor, answer_ids: Optional[list[int]] = None) -> torch.Tensor:
        """[prefix, audio [T, D], suffix, answer] as one [L, D] sequence of input embeddings."""
        parts = [embedding(self.prefix_ids), audio, embedding(self.suffix_ids)]
        if answer_ids:
            parts.append(embedding(torch.tensor(answer_ids, device=self.prefix_ids.device)))
        return torch.cat(parts)

    def length(self, audio_tokens: int) -> int:
        """Positions before the answer: prompt tokens plus audio tokens."""
        return len(self.prefix_ids) + audio_tokens + len(self.suffix_ids)
