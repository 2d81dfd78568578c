"""The yardstick a converted SmolLM2 is held to: the GGUF model's own logits and greedy answers.

The GGUF-loaded model and the reloaded float32 model hold bit-identical weights, but they may run
different float32 kernels (memory layouts, reduction order), so their logits agree only up to
float noise. A candidate therefore passes when

- its logits at the end of each fixed prompt lie within a tolerance *scaled to the reference
  logits* (``LOGIT_TOLERANCE`` × max |reference logit|),
- its greedy choice equals the reference's at every step of a short continuation of each prompt
  (teacher-forced along the reference tokens, so one forward pass per prompt), except at steps
  where the reference's top two logits are so close that noise within tolerance may swap them, and
- its output head is tied to the token embedding, as SmolLM2's is.

Measured on SmolLM2-135M-Instruct (max |logit| 21-31 at the ends of these prompts; figures are
max |Δ logit| / max |reference logit|):
  float32 noise: the kernel-path difference that once failed a first run on an AVX-512/AMX Xeon,
    1.5e-3 absolute = 5.9e-5; every weight stored column-major 1.5e-6; eager instead of SDPA
    attention 2.5e-6; every weight × (1 + 1e-5·N(0, 1)) 1.1e-4. None changes a greedy token.
  real faults: one q or o projection transposed 0.30-1.7; one layer's q/k rotary order permuted
    0.22; a zeroed head 1.0; one tensor scaled by 1.05 2.6e-2 (by 1.01: 5.2e-3); 5 % RMS noise on
    one q projection 1.4e-2; 0.1 % RMS noise on every weight 1.2e-2.
    The structural faults also change 2-43 of the 43 greedy steps compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import GenerationConfig, LlamaForCausalLM, PreTrainedTokenizerBase

# 17× above the largest float noise seen, 5× below the smallest fault above.
LOGIT_TOLERANCE = 1e-3
# A candidate within tolerance can only swap two tokens whose reference logits are closer than
# twice the tolerance; such steps are not compared (1 of the 44 steps here, a gap of 0.017).
MIN_MARGIN = 2 * LOGIT_TOLERANCE
GREEDY_TOKENS = 12

# (text, as a chat turn?). The first is the chat prompt whose logits ``load_reference`` returns.
REFERENCE_PROMPTS = (
    ("What is the capital of France?", True),
    ("Explain photosynthesis in one sentence.", True),
    ("The quick brown fox", False),
    ("def fibonacci(n):", False),
)


class ConversionMismatch(RuntimeError):
    """The candidate model does not reproduce the reference model."""


@dataclass(frozen=True)
class ConversionReference:
    """Per prompt: its token ids [T], the reference logits at its last position [vocab], the
    greedy continuation [N] and, per step, the gap between the reference's top two logits [N]."""

    prompts: list[torch.Tensor]
    logits: list[torch.Tensor]
    continuations: list[torch.Tensor]
    margins: list[torch.Tensor]

    def to_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {"input_ids": self.prompts[0][None].clone(), "logits": self.logits[0].clone()}
        for i, parts in enumerate(zip(self.prompts, self.logits, self.continuations, self.margins)):
            for name, tensor in zip(("prompt", "prompt_logits", "continuation", "margins"), parts):
                tensors[f"{name}.{i}"] = tensor.contiguous()
        return tensors

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> ConversionReference:
        count = sum(1 for key in tensors if key.startswith("prompt."))
        if count == 0:
            raise ValueError("The reference file holds no greedy reference.")

        def take(name: str) -> list[torch.Tensor]:
            return [tensors[f"{name}.{i}"] for i in range(count)]

        return cls(take("prompt"), take("prompt_logits"), take("continuation"), take("margins"))


@dataclass
class Comparison:
    """How a candidate fared against a reference."""

    max_delta: float = 0.0  # max |Δ logit| / max |reference logit|, worst prompt
    max_abs_delta: float = 0.0
    steps: int = 0  # greedy steps compared
    mismatches: list[str] = field(default_factory=list)  # "prompt 2, step 5: token 13 instead of 262"
    structure: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = list(self.structure)
        if self.max_delta > LOGIT_TOLERANCE:
            found.append(
                f"logits differ by up to {self.max_abs_delta:.3g} "
                f"({self.max_delta:.2g} of their scale; tolerance {LOGIT_TOLERANCE:g})"
            )
        if self.mismatches:
            found.append(
                f"{len(self.mismatches)} of {self.steps} greedy tokens differ ({'; '.join(self.mismatches[:3])})"
            )
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()


def reference_prompts(tokenizer: PreTrainedTokenizerBase) -> list[torch.Tensor]:
    """Token ids [T] of each reference prompt."""
    prompts = []
    for text, chat in REFERENCE_PROMPTS:
        if chat:
            encoded = tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        else:
            encoded = tokenizer(text, return_tensors="pt")
        prompts.append(encoded["input_ids"][0].to(torch.int64))
    return prompts


@torch.inference_mode()
def compute_reference(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerBase) -> ConversionReference:
    """The reference model's logits and greedy continuations of ``REFERENCE_PROMPTS``."""
    prompts, logits, continuations, margins = [], [], [], []
    for prompt in reference_prompts(tokenizer):
        continuation = _greedy(model, prompt, tokenizer.eos_token_id)
        forced = _teacher_forced(model, prompt, continuation)
        top2 = forced.topk(2, dim=-1).values
        prompts.append(prompt)
        logits.append(forced[0].clone())
        continuations.append(continuation)
        margins.append((top2[:, 0] - top2[:, 1]).contiguous())
    return ConversionReference(prompts, logits, continuations, margins)


@torch.inference_mode()
def compare(candidate: LlamaForCausalLM, reference: ConversionReference) -> Comparison:
    """Hold ``candidate`` to ``reference``; see ``Comparison.problems`` for the verdict."""
    result = Comparison()
    if candidate.lm_head.weight.data_ptr() != candidate.model.embed_tokens.weight.data_ptr():
        result.structure.append("lm_head is not tied to the token embedding")
    for i, (prompt, ref_logits, continuation, margins) in enumerate(
        zip(reference.prompts, reference.logits, reference.continuations, reference.margins)
    ):
        forced = _teacher_forced(candidate, prompt, continuation).float()
        scale = ref_logits.abs().max().item()
        delta = (forced[0] - ref_logits).abs().max().item()
        result.max_abs_delta = max(result.max_abs_delta, delta)
        result.max_delta = max(result.max_delta, delta / scale)
        decided = margins >= MIN_MARGIN * scale
        chosen = forced.argmax(dim=-1)
        result.steps += int(decided.sum())
        for step in torch.nonzero(decided & (chosen != continuation)).flatten().tolist():
            result.mismatches.append(
                f"prompt {i}, step {step}: token {chosen[step].item()} instead of {continuation[step].item()}"
            )
    return result


def check_against_reference(candidate: LlamaForCausalLM, reference: ConversionReference) -> Comparison:
    """``compare``, raising ``ConversionMismatch`` unless the candidate passes."""
    result = compare(candidate, reference)
    if problems := result.problems():
        raise ConversionMismatch(
            "The converted SmolLM2 does not reproduce the GGUF model: " + "; ".join(problems) + "."
        )
    return result


def check_conversion(
    reference_model: LlamaForCausalLM, candidate: LlamaForCausalLM, tokenizer: PreTrainedTokenizerBase
) -> Comparison:
    """Hold ``candidate`` to ``reference_model`` on the reference prompts."""
    return check_against_reference(candidate, compute_reference(reference_model, tokenizer))


def _greedy(model: LlamaForCausalLM, prompt: torch.Tensor, eos_token_id: int | None) -> torch.Tensor:
    """Up to ``GREEDY_TOKENS`` greedy tokens after ``prompt``, the last one eos if it came sooner."""
    config = GenerationConfig(
        max_new_tokens=GREEDY_TOKENS, do_sample=False, eos_token_id=eos_token_id, pad_token_id=eos_token_id
    )
    output = model.generate(prompt[None], attention_mask=torch.ones_like(prompt)[None], generation_config=config)
    return output[0, len(prompt) :].clone()


def _teacher_forced(model: LlamaForCausalLM, prompt: torch.Tensor, continuation: torch.Tensor) -> torch.Tensor:
    """Logits [N, vocab] predicting each continuation token, from one pass over the prompt and
    all but the last continuation token."""
    sequence = torch.cat([prompt, continuation[:-1]])[None]
    return model(sequence).logits[0, len(prompt) - 1 :]
