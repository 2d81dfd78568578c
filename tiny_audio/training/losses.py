"""The two training objectives, computed through the model's public stages.

1. **align** — CTC from projector frames onto the LLM's own vocabulary: each output frame is
   scored against every row of the frozen input-embedding matrix by scaled cosine similarity,
   plus a learned blank. No LLM pass, so it is cheap, and it puts each frame next to the
   embedding of the token it carries.
2. **lm** — next-token cross-entropy through the LLM on the transcript tokens only (prompt and
   audio masked), with the app's exact prompt.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.training.data import Example, pad_frames


class EmbeddingCTCHead(nn.Module):
    """Log-probabilities over [blank] + ``vocab_ids``: a learned scale × cosine(frame, embedding row)."""

    def __init__(self, embeddings: torch.Tensor, vocab_ids: list[int]):
        super().__init__()
        self.register_buffer("rows", F.normalize(embeddings[vocab_ids].detach().float(), dim=-1))
        self.blank = nn.Parameter(torch.randn(embeddings.shape[1]) * 0.02)
        self.log_scale = nn.Parameter(torch.tensor(math.log(20.0)))
        self.index = {token: i + 1 for i, token in enumerate(vocab_ids)}  # 0 is the blank

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        rows = torch.cat([F.normalize(self.blank, dim=0)[None], self.rows])
        cosine = F.normalize(frames.float(), dim=-1) @ rows.T
        return F.log_softmax(self.log_scale.exp() * cosine, dim=-1)

    def targets(self, batch: list[Example]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = [[self.index[t] for t in e.tokens if t in self.index] for e in batch]
        return torch.tensor([i for row in ids for i in row]), torch.tensor([len(row) for row in ids])


def ctc_loss(model: AudioLLM, head: EmbeddingCTCHead, batch: list[Example]) -> torch.Tensor:
    frames, lengths = pad_frames(batch)
    out = model.project(frames)
    out_lengths = torch.tensor([model.audio_tokens(int(n)) for n in lengths])
    log_probs = head(out).transpose(0, 1)  # [T, B, V+1]
    targets, target_lengths = head.targets(batch)
    return F.ctc_loss(log_probs, targets, out_lengths, target_lengths, blank=0, zero_infinity=True)


def align_vocabulary(examples: list[Example], stop_ids: set[int]) -> list[int]:
    """The tokens the training transcripts use (a full-vocabulary softmax costs 4-7x more and
    the LM stage covers the rest), plus the end-of-turn tokens. Validation tokens outside it are
    left out of their CTC targets, so the validation CTC loss is a little optimistic."""
    return sorted({t for e in examples for t in e.tokens} | stop_ids)


class SequenceBuilder:
    """Batches of [prompt prefix, audio frames, prompt suffix, transcript] as inputs_embeds,
    right-padded, with the positions and ids of the tokens to predict (the transcript and the
    end-of-turn token)."""

    def __init__(self, model: AudioLLM):
        self.model = model
        self.end_id = model.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if not isinstance(self.end_id, int) or self.end_id not in model.stop_ids:
            self.end_id = min(model.stop_ids)

    def __call__(self, audio: torch.Tensor, audio_lengths: list[int], batch: list[Example]):
        embeds, mask, starts = self.model.batch_prompt_embeddings(audio, audio_lengths, [e.tokens for e in batch])
        targets = [torch.tensor(e.tokens + [self.end_id]) for e in batch]
        positions = [torch.arange(start, start + len(target)) for start, target in zip(starts, targets)]
        rows = torch.cat([torch.full((len(p),), row) for row, p in enumerate(positions)])
        return embeds, mask, (rows, torch.cat(positions)), torch.cat(targets)


def lm_loss(model: AudioLLM, builder: SequenceBuilder, batch: list[Example], autocast: bool = False) -> torch.Tensor:
    frames, lengths = pad_frames(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        audio = model.project(frames)
        audio_lengths = [model.audio_tokens(int(n)) for n in lengths]
        embeds, mask, (rows, positions), targets = builder(audio, audio_lengths, batch)
        logits = model.logits_at(embeds, mask, rows, positions)
    return F.cross_entropy(logits.float(), targets)
