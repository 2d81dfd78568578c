"""LoRA for the decoder LLM: low-rank updates on chosen linear layers (the course's stage 2).

Training wraps each target ``nn.Linear`` in ``LoRALinear`` (base frozen, ``B @ A`` learned, B
starting at zero so the model starts exactly as it was). Shipping saves only the small A and B
matrices; loading merges them into the base weights (``W += scale · B @ A``), so inference runs
the plain model at no extra cost.

Adapter keys are the layer's name in the decoder plus PEFT-style suffixes
(``model.layers.3.self_attn.q_proj.lora_A.weight``), without PEFT's ``base_model.model.`` prefix.

This module stays for the nano model only: its training chain and its shipped adapter
(``assets/nano_lora.safetensors``) use this layout, and the pipeline package runs on machines
without ``peft`` (the GPU benchmarks'). Tiny Audio checkpoints' adapters are read with ``peft``
(``tiny_audio.loading.trained_weights``), whose layouts and adapter types this does not cover.
"""

from __future__ import annotations

import math

import torch
from torch import nn

DEFAULT_TARGETS = ("q_proj", "v_proj")
# Every linear layer of a Llama-style block: attention and MLP.
ALL_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TARGET_SETS = {"qv": DEFAULT_TARGETS, "all": ALL_TARGETS}  # the training command's --lora-targets


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.rank = rank
        self.scale = alpha / rank
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.lora_A.to(device=base.weight.device, dtype=base.weight.dtype)
        self.lora_B.to(device=base.weight.device, dtype=base.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scale


def add_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0, targets=DEFAULT_TARGETS) -> list[str]:
    """Wrap every linear layer whose name ends in one of ``targets``; freeze everything else.
    Returns the wrapped layers' names. A model wrapped already keeps its adapters as they are."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(".lora_" in name)
    already = [name for name, module in model.named_modules() if isinstance(module, LoRALinear)]
    if already:
        return already
    wrapped = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and name.split(".")[-1] in targets:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, LoRALinear(module, rank, alpha))
            wrapped.append(name)
    if not wrapped:
        raise ValueError(f"no linear layer named any of {targets} in the model")
    return wrapped


def wrapped_targets(model: nn.Module) -> list[str]:
    """The layer names (``q_proj``, ``down_proj`` …) that carry an adapter, in block order."""
    names = {name.split(".")[-1] for name, module in model.named_modules() if isinstance(module, LoRALinear)}
    order = {target: i for i, target in enumerate(ALL_TARGETS)}
    return sorted(names, key=lambda target: (order.get(target, len(order)), target))


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Just the adapter: ``<layer>.lora_A.weight`` and ``<layer>.lora_B.weight`` per wrapped layer."""
    state = {}
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            state[f"{name}.lora_A.weight"] = module.lora_A.weight.detach().clone()
            state[f"{name}.lora_B.weight"] = module.lora_B.weight.detach().clone()
    return state


def merge_lora(model: nn.Module, state: dict[str, torch.Tensor], alpha: float) -> int:
    """Add an adapter into a plain model's weights; returns how many layers it changed.

    Raises ``ValueError`` naming the key when the adapter does not fit the model."""
    layers = sorted({key.rsplit(".lora_", 1)[0] for key in state})
    for layer in layers:
        a_key, b_key = f"{layer}.lora_A.weight", f"{layer}.lora_B.weight"
        if a_key not in state or b_key not in state:
            raise ValueError(f"adapter key '{a_key if a_key not in state else b_key}' is missing")
        try:
            linear = model.get_submodule(layer)
        except AttributeError:
            raise ValueError(f"adapter key '{a_key}' names no layer of the model") from None
        a, b = state[a_key].float(), state[b_key].float()
        if (b.shape[0], a.shape[1]) != tuple(linear.weight.shape) or a.shape[0] != b.shape[1]:
            raise ValueError(
                f"adapter '{layer}' is {b.shape[0]}x{a.shape[1]} (rank {a.shape[0]}), "
                f"the layer is {tuple(linear.weight.shape)}"
            )
        with torch.no_grad():
            update = (b @ a) * (alpha / a.shape[0])
            linear.weight += update.to(device=linear.weight.device, dtype=linear.weight.dtype)
    return len(layers)
