"""One training stage: AdamW with warm-up and cosine decay, resumable checkpoints, validation
on a fixed slice, the best validated step kept, and ``loss.jsonl`` written as it goes."""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from tiny_audio.loading.weights.cache import atomic_path
from tiny_audio.training.data import Example, FrameMasking, batches


@dataclass
class StageConfig:
    name: str  # "align" or "lm"
    steps: int
    batch_size: int
    lr: float
    warmup: int
    weight_decay: float = 0.01
    clip: float = 1.0
    save_every: int = 200
    val_every: int = 200
    seed: int = 0
    keep: str = "best"  # "best": end on the checkpoint of lowest validation loss; "last": the final step


def lr_at(step: int, config: StageConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def run_stage(
    config: StageConfig,
    modules: dict[str, nn.Module],
    loss_fn,
    train: list[Example],
    val: list[Example],
    out: Path,
    log: "LossLog",
    progress: bool = True,
    augment: Optional[FrameMasking] = None,
    history=None,
) -> list[float]:
    """Train the parameters of ``modules`` that require grad; resume from ``out/<name>.pt``.
    With ``config.keep == "best"`` the modules end on the validated step of lowest loss
    (``out/<name>-best.pt``). ``history`` (a ``HistoryRecorder``) snapshots the model at step 0
    and whenever it is due. Returns the training losses of the steps run now."""
    parameters = [p for m in modules.values() for p in m.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    checkpoint, best_path = out / f"{config.name}.pt", out / f"{config.name}-best.pt"
    step = 0
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        for key, module in modules.items():
            restore(module, state["modules"][key])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        log.drop_after(config.name, step)  # steps logged after the checkpoint are run again
        if history:
            history.drop_after(config.name, step)
        if progress:
            print(f"[{config.name}] resumed at step {step}", file=sys.stderr)
    else:  # a fresh start: nothing logged or kept by an earlier attempt in this folder counts
        log.drop_after(config.name, -1)
        best_path.unlink(missing_ok=True)
        if history:
            history.drop_after(config.name, -1)
    best = min(((e["val_loss"], e["step"]) for e in log.read() if e["stage"] == config.name and "val_loss" in e),
               default=None)

    def validate() -> None:
        nonlocal best
        loss = round(validation_loss(loss_fn, val, config.batch_size, modules), 4)
        log.write(stage=config.name, step=step, val_loss=loss)
        if config.keep == "best" and (best is None or loss < best[0]):
            best = (loss, step)
            save_checkpoint(best_path, modules, None, step)

    if val and step == 0:
        validate()  # where the stage starts from: the baseline for "best"
    if history and step == 0:
        history.record(config.name, 0, modules)
    stream = batches(train, config.batch_size, config.seed)
    for _ in range(step):  # the same batches as an uninterrupted run
        next(stream)
    losses: list[float] = []
    bar = _bar(config, step, progress)
    started = time.perf_counter()
    for module in modules.values():
        module.train()
    while step < config.steps:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        batch = next(stream)
        if augment:  # seeded by the step, so a resumed run masks as an uninterrupted one
            generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
            batch = [augment(example, generator) for example in batch]
        loss = loss_fn(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, config.clip)
        optimizer.step()
        step += 1
        losses.append(loss.item())
        log.write(stage=config.name, step=step, loss=round(losses[-1], 4), lr=lr_at(step - 1, config),
                  grad_norm=round(float(grad_norm), 3), seconds=round(time.perf_counter() - started, 1))
        if bar:
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
        if val and (step % config.val_every == 0 or step == config.steps):
            validate()
        if history and (history.due(step) or step == config.steps):
            history.record(config.name, step, modules)
        if step % config.save_every == 0 or step == config.steps:
            save_checkpoint(checkpoint, modules, optimizer, step)
    if bar:
        bar.close()
    if config.keep == "best" and best and best[1] != step:
        state = torch.load(best_path, weights_only=False) if best_path.is_file() else {}
        if state.get("step") != best[1]:
            raise RuntimeError(f"{best_path} does not hold step {best[1]}, the best validated one; "
                               f"delete {checkpoint} to run the stage again")
        for key, module in modules.items():
            restore(module, state["modules"][key])
        if progress:
            print(f"[{config.name}] keeping step {best[1]}: validation loss {best[0]}, the lowest", file=sys.stderr)
    for module in modules.values():
        module.eval()
    return losses


@torch.no_grad()
def validation_loss(loss_fn, examples: list[Example], batch_size: int, modules: dict[str, nn.Module]) -> float:
    for module in modules.values():
        module.eval()
    ordered = sorted(examples, key=lambda e: e.frames.shape[0])
    total = sum(loss_fn(ordered[i : i + batch_size]).item() * len(ordered[i : i + batch_size])
                for i in range(0, len(ordered), batch_size))
    for module in modules.values():
        module.train()
    return total / len(examples)


def trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """What a checkpoint keeps of a module: its trainable parameters (frozen weights are not copied)."""
    return {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}


def restore(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    parameters = dict(module.named_parameters())
    for name, value in state.items():
        parameters[name].data.copy_(value)


def save_checkpoint(path: Path, modules: dict[str, nn.Module], optimizer, step: int) -> None:
    state = {"step": step, "optimizer": optimizer.state_dict() if optimizer else None,
             "modules": {key: trainable_state(m) for key, m in modules.items()}}
    with atomic_path(path) as partial:
        torch.save(state, partial)


class LossLog:
    """``loss.jsonl``: one JSON object per line, appended and flushed as training goes."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **entry) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def drop_after(self, stage: str, step: int) -> None:
        entries = [e for e in self.read() if not (e["stage"] == stage and e["step"] > step)]
        with atomic_path(self.path) as partial:
            partial.write_text("".join(json.dumps(e) + "\n" for e in entries))

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def _bar(config: StageConfig, step: int, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=config.steps, initial=step, desc=config.name, mininterval=5, file=sys.stderr)
