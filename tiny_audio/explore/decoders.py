"""The decoder comparison: which LLM, which projector it needs, how much memory LoRA training takes.

``decoder_table`` reads published configs from ``data/decoders.json``, builds each decoder on the
``meta`` device to count its parameters and LoRA adapters, and sets a training-memory estimate with
every assumption spelled out (``lora_assumptions``) beside the course's own numbers and what they
get wrong (``COURSE_DECODER_ERRORS``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import torch
from torch import nn

from tiny_audio.explore.configs import projector_parameters

DATA_DIR = Path(__file__).resolve().parent / "data"

# transformers classes per model_type in data/decoders.json.
DECODER_CLASSES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "mistral": ("MistralConfig", "MistralForCausalLM"),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM"),
    "smollm3": ("SmolLM3Config", "SmolLM3ForCausalLM"),
}
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
FROZEN_BYTES = 2  # bf16 weights
TRAINABLE_BYTES = 16  # fp32 weight + gradient + AdamW's two moments
COURSE_PROJECTOR = {"encoder_dim": 1280, "k": 5, "hidden_dim": 8192}


def decoder_specs() -> list[dict]:
    """The published decoder configs checked into ``data/decoders.json``."""
    return json.loads((DATA_DIR / "decoders.json").read_text())["decoders"]


def decoder_config(spec: dict):
    import transformers

    config_class, _ = DECODER_CLASSES[spec["model_type"]]
    return getattr(transformers, config_class)(**spec["config"])


def decoder_on_meta(spec: dict) -> nn.Module:
    """The decoder a spec describes, built on the meta device: real modules, no memory."""
    import transformers

    _, model_class = DECODER_CLASSES[spec["model_type"]]
    config = decoder_config(spec)
    with torch.device("meta"):
        return getattr(transformers, model_class)(config)


def count_parameters(module: nn.Module) -> int:
    # parameters() yields a tied embedding / output head once.
    return sum(p.numel() for p in module.parameters())


def lora_parameters(
    model: nn.Module, rank: int, targets: Iterable[str] = LORA_TARGETS
) -> tuple[int, dict[str, list[int]]]:
    """Parameters of rank-``rank`` LoRA adapters on every Linear named in ``targets``: r·(in + out)
    each, with in/out read from the module. Returns the total and each target's [in, out]."""
    targets = tuple(targets)
    total, shapes = 0, {}
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in targets and isinstance(module, nn.Linear):
            total += rank * (module.in_features + module.out_features)
            shapes.setdefault(leaf, [module.in_features, module.out_features])
    return total, shapes


def course_lora_estimate(hidden: int, rank: int = 64) -> dict[str, float]:
    """The course's LoRA estimate, reproduced to set beside ours: 4·2·hidden·rank·32 adapter
    parameters for any model, plus a fixed 122M projector and 2M encoder LoRA, × 4 bytes × 3."""
    lora = 4 * 2 * hidden * rank * 32
    trainable = 122e6 + 2e6 + lora
    return {"lora_params": lora, "trainable_params": trainable, "memory_gb": trainable * 4 * 3 / 1e9}


@dataclass
class DecoderRow:
    name: str
    model_id: str
    source: str  # the published config.json the numbers come from
    model_type: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    params: int  # counted on the meta device
    embedding_params: int  # the input-embedding matrix
    verified: dict  # which fields were checked offline, against what
    projector_params: int  # the course's SwiGLU projector with this decoder's hidden size
    lora_rank: int
    lora_params: int
    lora_shapes: dict[str, list[int]]  # per target: [in, out] of one layer's Linear
    trainable_params: int  # projector + LoRA
    frozen_weights_gb: float  # decoder in bf16
    trainable_state_gb: float  # trainable params × 16 bytes
    training_gb: float  # the two above; activations excluded
    course: Optional[dict] = None  # what the course says about this model, and its estimate


@dataclass
class DecoderReport:
    rows: list[DecoderRow]
    assumptions: list[str]
    course_errors: list[str]


def decoder_table(rank: int = 64) -> DecoderReport:
    """Every decoder in ``data/decoders.json``: size counted on meta, the projector it needs and a
    LoRA training-memory estimate, beside what the course's comparison says."""
    rows = []
    for spec in decoder_specs():
        model = decoder_on_meta(spec)
        config = model.config
        params = count_parameters(model)
        lora, shapes = lora_parameters(model, rank)
        projector = sum(projector_parameters(llm_dim=config.hidden_size, **COURSE_PROJECTOR).values())
        trainable = projector + lora
        frozen_gb = params * FROZEN_BYTES / 1e9
        state_gb = trainable * TRAINABLE_BYTES / 1e9
        course = None
        if spec.get("course"):
            course = dict(spec["course"])
            course["projector_params"] = sum(
                projector_parameters(llm_dim=course["hidden_dim"], **COURSE_PROJECTOR).values()
            )
            # The course prints its memory estimate only for its first three decoders.
            if course.pop("memory_listed", True):
                course.update(course_lora_estimate(course["hidden_dim"]))  # the course's rank 64
        rows.append(DecoderRow(
            name=spec["name"],
            model_id=spec["model_id"],
            source=spec["source"],
            model_type=spec["model_type"],
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            num_key_value_heads=config.num_key_value_heads,
            head_dim=model.model.layers[0].self_attn.head_dim,
            intermediate_size=config.intermediate_size,
            vocab_size=config.vocab_size,
            tie_word_embeddings=bool(config.tie_word_embeddings),
            params=params,
            embedding_params=model.get_input_embeddings().weight.numel(),
            verified=spec["verified"],
            projector_params=projector,
            lora_rank=rank,
            lora_params=lora,
            lora_shapes=shapes,
            trainable_params=trainable,
            frozen_weights_gb=frozen_gb,
            trainable_state_gb=state_gb,
            training_gb=frozen_gb + state_gb,
            course=course,
        ))
    return DecoderReport(rows, lora_assumptions(rank), COURSE_DECODER_ERRORS)


def lora_assumptions(rank: int) -> list[str]:
    return [
        (
            f"LoRA rank {rank} on q_proj, k_proj, v_proj and o_proj of every decoder layer; an adapter on a "
            "Linear(in, out) adds rank·(in + out) parameters, in/out read from the decoder built on the meta "
            "device (with grouped-query attention, k_proj and v_proj map hidden → kv_heads·head_dim)."
        ),
        (
            "Projector: the course's SwiGLU (encoder 1280-d, k 5, hidden 8192), output = the decoder's hidden "
            "size, counted on the meta device. No encoder LoRA (the course adds a fixed 2M)."
        ),
        f"Frozen decoder weights in bf16: {FROZEN_BYTES} bytes per parameter.",
        (
            "Trainable parameters (projector + LoRA) in fp32 with AdamW: weight + gradient + two moments = "
            f"{TRAINABLE_BYTES} bytes per parameter."
        ),
        (
            "Excluded: the speech encoder's weights, activations (they grow with batch × sequence length × "
            "layers and shrink with gradient checkpointing), and framework overhead (CUDA context, allocator)."
        ),
        "GB = 10^9 bytes.",
    ]


COURSE_DECODER_ERRORS = [
    "Multiplies 4·2·hidden·rank by 32 layers for every model: Qwen3-8B has 36, Qwen3-1.7B 28, SmolLM3-3B 36.",
    (
        "Counts k_proj and v_proj adapters as hidden→hidden; with grouped-query attention they are "
        "hidden → kv_heads·head_dim (4096 → 1024 for the 8B models), so their adapters are smaller."
    ),
    (
        "Gives Qwen3-8B a 2048-d hidden state (it is 4096-d, 36 layers, 32 heads / 8 KV) and lists a "
        "'Qwen3-1.5B' with 1536 (no such model; Qwen3-1.7B is 2048-d, 28 layers)."
    ),
    (
        "Fixes the projector at 122M for every decoder, but its output layer follows the decoder's hidden "
        "size (138.4M for a 4096-d decoder)."
    ),
    (
        "Counts 4 bytes × 3 per trainable parameter (weight, gradient, one optimizer state); AdamW keeps two "
        "moments: 16 bytes."
    ),
    "Leaves out the frozen decoder itself, by far the largest term: ~16 GB for an 8B model in bf16.",
]
