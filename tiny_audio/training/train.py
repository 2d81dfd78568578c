"""Train the nano projector: frozen Whisper tiny.en encoder, frozen SmolLM2, SwiGLU projector.

    python -m tiny_audio dataset build --out data/nano --sentences 12000 --held-out 300
    python -m tiny_audio encoder-cache data/nano
    python -m tiny_audio train data/nano --out runs/nano --align-steps 900 --lm-steps 1800 --bf16
    # later, on a larger data set: more of the lm stage, from that run's weights
    python -m tiny_audio train data/nano --out runs/nano-2 --stage lm --init runs/nano --mask --bf16

Two stages, each resumable (a checkpoint every ``--save-every`` steps; rerun the same command; a
rerun with a larger step count goes on training, on the learning-rate schedule of the new count).
Each stage validates before its first step and every ``--save-every`` steps, and by default ends
on the validated step of lowest loss (``--keep best``; ``--keep last``: the final step).

1. **align** — CTC from projector frames onto the LLM's own vocabulary. Each output frame is
   scored against every row of the frozen input-embedding matrix by scaled cosine similarity,
   plus a learned blank; the CTC target is the transcript's token ids. No LLM forward pass, so it
   is cheap, and it puts each frame next to the embedding of the token it carries (what the
   app's nearest-token view shows).
2. **lm** — next-token cross-entropy through the LLM on the transcript tokens only (the prompt
   and the audio are masked), with the app's exact prompt, and LoRA on the LLM's q/v
   projections (``--lora-targets all``: on every linear layer of each block; ``--lora-rank 0``
   trains the projector alone).

``--mask`` masks spans of time and bands of channels of the cached frames in the lm stage
(``FrameMasking``), against memorising clips that are each heard once per epoch.

The encoder's frames come from ``python -m tiny_audio encoder-cache`` (computed once). A slice
of the training split (``--val`` clips, chosen by id) is kept aside to watch the loss; the
held-out split is never read here. Outputs in ``--out``: ``loss.jsonl`` (every step and every
validation), ``align.pt`` / ``lm.pt`` (checkpoints; ``*-best.pt``: the best validated step), and
at the end ``nano_projector.safetensors`` and ``nano_lora.safetensors`` (float16) with
``nano_lora.json``. ``python -m tiny_audio eval`` scores them and ``python -m
tiny_audio.training.model_card`` ships them into ``assets/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn

from tiny_audio.pipeline.lora import DEFAULT_TARGETS, TARGET_SETS, add_lora, lora_state_dict, wrapped_targets
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.loading.weights.cache import atomic_path

LORA_ALPHA_PER_RANK = 2.0  # alpha = 2 × rank, the usual choice


@dataclass
class Example:
    id: str
    frames: torch.Tensor  # [T, encoder_dim] float16, the frozen encoder's output
    tokens: list[int]  # the transcript, tokenised without special tokens


# ----- data -----------------------------------------------------------------------------------


def load_examples(dataset: Path, cache: Path, tokenizer, split: str = "train") -> list[Example]:
    from tiny_audio.training.dataset import read_manifest
    from tiny_audio.training.encoder_cache import load_cache

    records = [r for r in read_manifest(dataset / "manifest.jsonl") if r["split"] == split]
    frames = load_cache(cache)
    missing = [r["id"] for r in records if r["id"] not in frames]
    if missing:
        raise ValueError(f"{len(missing)} clips have no cached frames (first: {missing[0]}); "
                         f"run python -m tiny_audio encoder-cache {dataset}")
    return [Example(r["id"], frames[r["id"]], tokenizer(r["text"], add_special_tokens=False)["input_ids"])
            for r in records]


def split_validation(examples: list[Example], count: int) -> tuple[list[Example], list[Example]]:
    """The ``count`` examples of smallest id hash go to validation: a fixed choice, whatever the order."""
    def rank(example: Example) -> str:
        return hashlib.sha256(example.id.encode()).hexdigest()

    chosen = {e.id for e in sorted(examples, key=rank)[:count]}
    return [e for e in examples if e.id not in chosen], [e for e in examples if e.id in chosen]


def batches(examples: list[Example], batch_size: int, seed: int) -> Iterator[list[Example]]:
    """Endless batches of similar length (little padding), in a fresh random order each epoch."""
    epoch = 0
    while True:
        rng = random.Random(seed * 100_003 + epoch)
        # Sort by length with jitter, cut into batches, shuffle the batches.
        keyed = sorted(examples, key=lambda e: e.frames.shape[0] * rng.uniform(0.9, 1.1))
        chunks = [keyed[i : i + batch_size] for i in range(0, len(keyed), batch_size)]
        rng.shuffle(chunks)
        yield from chunks
        epoch += 1


def pad_frames(batch: list[Example]) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T_max, D] float32 (zero-padded, which the projector's own zero padding matches) and the lengths."""
    lengths = torch.tensor([e.frames.shape[0] for e in batch])
    padded = torch.zeros(len(batch), int(lengths.max()), batch[0].frames.shape[1])
    for row, example in enumerate(batch):
        padded[row, : example.frames.shape[0]] = example.frames.float()
    return padded, lengths


@dataclass
class FrameMasking:
    """SpecAugment-style masking of the cached encoder frames, in training only. Each sentence
    is spoken once, so without it the LM stage memorises its clips (training loss 0.28 against
    validation 1.55 after 1,800 steps). Masked values are zero, as the projector's padding is."""

    frames_per_second: int = 50  # Whisper's encoder output rate
    time_width: int = 5  # frames: at most 0.1 s per mask
    time_masks_per_second: float = 1.0
    channel_width: int = 24  # of the encoder's 384 dimensions
    channel_masks: int = 2

    def __call__(self, example: Example, generator: torch.Generator) -> Example:
        frames = example.frames.clone()
        length, dim = frames.shape

        def spans(count: int, width: int, size: int) -> Iterator[tuple[int, int]]:
            for _ in range(count):
                span = int(torch.randint(0, width + 1, (1,), generator=generator))
                start = int(torch.randint(0, max(1, size - span + 1), (1,), generator=generator))
                yield start, start + span

        for start, stop in spans(round(length / self.frames_per_second * self.time_masks_per_second), self.time_width, length):
            frames[start:stop] = 0
        for start, stop in spans(self.channel_masks, self.channel_width, dim):
            frames[:, start:stop] = 0
        return Example(example.id, frames, example.tokens)


# ----- stage 1: CTC onto the LLM's embeddings ----------------------------------------------


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


def ctc_loss(projector: nn.Module, head: EmbeddingCTCHead, batch: list[Example]) -> torch.Tensor:
    frames, lengths = pad_frames(batch)
    out = projector(frames)
    out_lengths = torch.tensor([projector.output_frames(int(n)) for n in lengths])
    log_probs = head(out).transpose(0, 1)  # [T, B, V+1]
    targets, target_lengths = head.targets(batch)
    return F.ctc_loss(log_probs, targets, out_lengths, target_lengths, blank=0, zero_infinity=True)


def align_vocabulary(examples: list[Example], stop_ids: set[int]) -> list[int]:
    """The tokens the training transcripts use (a full-vocabulary softmax costs 4-7x more and
    the LM stage covers the rest), plus the end-of-turn tokens. Validation tokens outside it are
    left out of their CTC targets, so the validation CTC loss is a little optimistic."""
    return sorted({t for e in examples for t in e.tokens} | stop_ids)


# ----- stage 2: cross-entropy through the LLM -----------------------------------------------


class SequenceBuilder:
    """Batches of [prompt prefix, audio frames, prompt suffix, transcript, end-of-turn] as
    inputs_embeds, right-padded, with the positions and ids of the tokens to predict."""

    def __init__(self, model: AudioLLM):
        self.model = model
        self.end_id = model.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if not isinstance(self.end_id, int) or self.end_id not in model.stop_ids:
            self.end_id = min(model.stop_ids)

    def __call__(self, audio: torch.Tensor, audio_lengths: list[int], batch: list[Example]):
        embed = self.model.decoder.get_input_embeddings()
        prefix, suffix = embed(self.model._prefix_ids[0]), embed(self.model._suffix_ids[0])
        rows, positions, targets = [], [], []
        for row, (example, n_audio) in enumerate(zip(batch, audio_lengths)):
            answer = torch.tensor(example.tokens + [self.end_id])
            sequence = torch.cat([prefix, audio[row, :n_audio], suffix, embed(answer[:-1])])
            first = prefix.shape[0] + n_audio + suffix.shape[0] - 1  # predicts the first answer token
            positions.append(torch.arange(first, first + len(answer)))
            targets.append(answer)
            rows.append(sequence)
        length = max(r.shape[0] for r in rows)
        embeds = torch.zeros(len(rows), length, rows[0].shape[1], dtype=rows[0].dtype)
        mask = torch.zeros(len(rows), length, dtype=torch.long)
        for row, sequence in enumerate(rows):
            embeds[row, : sequence.shape[0]] = sequence
            mask[row, : sequence.shape[0]] = 1
        batch_index = torch.cat([torch.full((len(p),), row) for row, p in enumerate(positions)])
        return embeds, mask, (batch_index, torch.cat(positions)), torch.cat(targets)


def lm_loss(model: AudioLLM, builder: SequenceBuilder, batch: list[Example], autocast: bool = False) -> torch.Tensor:
    frames, lengths = pad_frames(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        audio = model.projector(frames)
        audio_lengths = [model.projector.output_frames(int(n)) for n in lengths]
        embeds, mask, where, targets = builder(audio, audio_lengths, batch)
        hidden = model.decoder.model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        # The vocabulary projection only where there is something to predict.
        logits = model.decoder.lm_head(hidden[where])
    return F.cross_entropy(logits.float(), targets)


# ----- the loop ---------------------------------------------------------------------------


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
) -> list[float]:
    """Train the parameters of ``modules`` that require grad; resume from ``out/<name>.pt``.
    With ``config.keep == "best"`` the modules end on the validated step of lowest loss
    (``out/<name>-best.pt``). Returns the training losses of the steps run now."""
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
        if progress:
            print(f"[{config.name}] resumed at step {step}", file=sys.stderr)
    else:  # a fresh start: nothing logged or kept by an earlier attempt in this folder counts
        log.drop_after(config.name, -1)
        best_path.unlink(missing_ok=True)
    best = min(((e["val_loss"], e["step"]) for e in log.read() if e["stage"] == config.name and "val_loss" in e),
               default=None)

    def validate() -> None:
        nonlocal best
        loss = round(evaluate(loss_fn, val, config.batch_size, modules), 4)
        log.write(stage=config.name, step=step, val_loss=loss)
        if config.keep == "best" and (best is None or loss < best[0]):
            best = (loss, step)
            save_checkpoint(best_path, modules, None, step)

    if val and step == 0:
        validate()  # where the stage starts from: the baseline for "best"
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
def evaluate(loss_fn, examples: list[Example], batch_size: int, modules: dict[str, nn.Module]) -> float:
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


# ----- the two stages end to end ---------------------------------------------------------


def train_align(model: AudioLLM, train: list[Example], val: list[Example], out: Path, config: StageConfig,
                log: LossLog, progress: bool = True) -> list[float]:
    vocab = align_vocabulary(train, model.stop_ids)
    head = EmbeddingCTCHead(model.decoder.get_input_embeddings().weight, vocab)
    for p in model.projector.parameters():
        p.requires_grad_(True)
    losses = run_stage(config, {"projector": model.projector, "head": head},
                       lambda batch: ctc_loss(model.projector, head, batch), train, val, out, log, progress)
    match_embedding_scale(model)
    return losses


@torch.no_grad()
def match_embedding_scale(model: AudioLLM) -> None:
    """Cosine ignores scale; give the projector's output the typical RMS of the LLM's own
    embedding rows before the LLM reads it (scales the final RMSNorm's weight)."""
    embeddings = model.decoder.get_input_embeddings().weight.float()
    target = embeddings.pow(2).mean(dim=1).sqrt().median()
    weight = model.projector.ln_post.weight
    weight.mul_(target / weight.float().pow(2).mean().sqrt())


def train_lm(model: AudioLLM, train: list[Example], val: list[Example], out: Path, config: StageConfig,
             log: LossLog, lora_rank: int = 8, autocast: bool = False, progress: bool = True,
             augment: Optional[FrameMasking] = None, lora_targets: tuple[str, ...] = DEFAULT_TARGETS) -> list[float]:
    if lora_rank:  # a warm-started decoder keeps the adapters it was given
        add_lora(model.decoder, rank=lora_rank, alpha=LORA_ALPHA_PER_RANK * lora_rank, targets=lora_targets)
        if set(wrapped_targets(model.decoder)) != set(lora_targets):
            raise ValueError(f"the decoder's adapters are on {wrapped_targets(model.decoder)}, not {list(lora_targets)}")
    else:
        for p in model.decoder.parameters():
            p.requires_grad_(False)
    for p in model.projector.parameters():
        p.requires_grad_(True)
    builder = SequenceBuilder(model)
    modules = {"projector": model.projector, "decoder": model.decoder}
    return run_stage(config, modules, lambda batch: lm_loss(model, builder, batch, autocast),
                     train, val, out, log, progress, augment)


def export(model: AudioLLM, out: Path, lora_rank: int) -> list[Path]:
    """float16 safetensors of the projector (and the adapter), as ``load_model`` reads them."""
    from safetensors.torch import save_file

    written = []
    projector = {k: v.detach().to(torch.float16).contiguous() for k, v in model.projector.state_dict().items()}
    with atomic_path(out / "nano_projector.safetensors") as partial:
        save_file(projector, str(partial))
    written.append(out / "nano_projector.safetensors")
    if not lora_rank:  # no adapter: one left from an earlier run must not be merged with this projector
        for name in ("nano_lora.safetensors", "nano_lora.json"):
            (out / name).unlink(missing_ok=True)
    if lora_rank:
        adapter = {k: v.to(torch.float16).contiguous() for k, v in lora_state_dict(model.decoder).items()}
        with atomic_path(out / "nano_lora.safetensors") as partial:
            save_file(adapter, str(partial))
        (out / "nano_lora.json").write_text(json.dumps(
            {"rank": lora_rank, "alpha": LORA_ALPHA_PER_RANK * lora_rank, "targets": wrapped_targets(model.decoder)},
            indent=1))
        written += [out / "nano_lora.safetensors", out / "nano_lora.json"]
    return written


def load_projector_checkpoint(model: AudioLLM, path: Path) -> None:
    """The projector from a finished stage's checkpoint (the lm stage starts from align's)."""
    state = torch.load(path, weights_only=False)
    restore(model.projector, state["modules"]["projector"])


def check_init(run: Path, lora_rank: int, lora_targets: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless an lm stage with this adapter can go on from ``run``'s weights.
    The projector was trained with (or without) that run's adapter, so the rank must match; the
    adapter may grow to more layers, never shrink."""
    adapter = run / "nano_lora.json"
    config = json.loads(adapter.read_text()) if adapter.is_file() else {"rank": 0, "targets": []}
    rank = config["rank"]
    if rank != lora_rank:
        raise ValueError(f"{run} has {f'a rank-{rank} adapter' if rank else 'no adapter'}; "
                         f"this run asks for {f'rank {lora_rank}' if lora_rank else 'none'}")
    dropped = sorted(set(config["targets"]) - set(lora_targets))
    if lora_rank and dropped:
        raise ValueError(f"{run}'s adapter is on {', '.join(dropped)} too; this run's --lora-targets must include them")


def warm_start(model: AudioLLM, run: Path, lora_rank: int, lora_targets: tuple[str, ...] = DEFAULT_TARGETS) -> None:
    """Projector and adapter from another run's weights, for an lm stage that goes on from it.
    Adapters on layers the other run had none on start at zero: the model starts as it was."""
    from safetensors.torch import load_file

    check_init(run, lora_rank, lora_targets)
    model.projector.load_state_dict({k: v.float() for k, v in load_file(run / "nano_projector.safetensors").items()})
    if lora_rank:
        add_lora(model.decoder, rank=lora_rank, alpha=LORA_ALPHA_PER_RANK * lora_rank, targets=lora_targets)
        restore(model.decoder, {k: v.float() for k, v in load_file(run / "nano_lora.safetensors").items()})


def machine() -> dict:
    """Where a run trained, for the model card."""
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": "cpu"}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tiny_audio train", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="a dataset directory (manifest.jsonl + encoder cache)")
    parser.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, loss log, weights)")
    parser.add_argument("--cache", type=Path, help="encoder cache (default DATASET/encoder-whisper-tiny.en)")
    parser.add_argument("--stage", choices=["align", "lm", "both"], default="both")
    parser.add_argument("--align-steps", type=int, default=900)
    parser.add_argument("--align-batch", type=int, default=32)
    parser.add_argument("--align-lr", type=float, default=2e-3)
    parser.add_argument("--lm-steps", type=int, default=1800)
    parser.add_argument("--lm-batch", type=int, default=16)
    parser.add_argument("--lm-lr", type=float, default=5e-4)
    parser.add_argument("--lora-rank", type=int, default=8, help="0: train the projector alone")
    parser.add_argument("--lora-targets", choices=sorted(TARGET_SETS), default="qv",
                        help="LoRA on the attention's q/v projections, or on every linear layer of each block")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast in the lm stage (CPUs with AVX512-BF16/AMX)")
    parser.add_argument("--val", type=int, default=200, help="training clips kept aside to watch the loss")
    parser.add_argument("--save-every", type=int, default=200)
    parser.add_argument("--keep", choices=["best", "last"], default="best",
                        help="export the validated step of lowest loss, or the last step")
    parser.add_argument("--mask", action="store_true", help="mask time spans and channels of the frames (lm stage)")
    parser.add_argument("--init", type=Path, help="lm stage only: go on from this run's exported weights")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.init and args.stage != "lm":
        parser.error("--init goes with --stage lm")
    if args.lora_targets != "qv" and not args.lora_rank:
        parser.error("--lora-targets goes with a --lora-rank above 0")
    targets = TARGET_SETS[args.lora_targets]
    if args.init:
        args.init = args.init.resolve()  # the model card follows it from wherever it runs
        try:
            check_init(args.init, args.lora_rank, targets)
        except (OSError, ValueError) as error:
            parser.error(str(error))
    earlier = args.out / "args.json"
    if (args.out / "lm.pt").is_file() and earlier.is_file():  # a resumed lm stage keeps its adapter
        before = json.loads(earlier.read_text())["args"]
        if (before.get("lora_rank"), before.get("lora_targets", "qv")) != (str(args.lora_rank), args.lora_targets):
            parser.error(f"{args.out / 'lm.pt'} was trained with --lora-rank {before.get('lora_rank')} "
                         f"--lora-targets {before.get('lora_targets', 'qv')}; rerun with those")

    from tiny_audio.loading.load import load_nano

    torch.manual_seed(args.seed)
    model = load_nano(device="cpu", dtype=torch.float32, weights=None)
    cache = args.cache or args.dataset / "encoder-whisper-tiny.en"
    train, val = split_validation(load_examples(args.dataset, cache, model.tokenizer), args.val)
    print(f"{len(train)} training clips, {len(val)} for validation", file=sys.stderr)
    log = LossLog(args.out / "loss.jsonl")
    (args.out / "args.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "machine": machine(),
         "data": {"train_clips": len(train), "val_clips": len(val)}}, indent=1))
    common = dict(save_every=args.save_every, val_every=args.save_every, seed=args.seed, keep=args.keep)
    if args.init:
        warm_start(model, args.init, args.lora_rank, targets)
    elif args.stage in ("align", "both"):
        config = StageConfig("align", args.align_steps, args.align_batch, args.align_lr,
                             warmup=max(1, args.align_steps // 20), **common)
        train_align(model, train, val, args.out, config, log)
    else:
        best = args.out / "align-best.pt"
        load_projector_checkpoint(model, best if args.keep == "best" and best.is_file() else args.out / "align.pt")
        match_embedding_scale(model)
    if args.stage in ("lm", "both"):
        config = StageConfig("lm", args.lm_steps, args.lm_batch, args.lm_lr,
                             warmup=max(1, args.lm_steps // 20), **common)
        train_lm(model, train, val, args.out, config, log, args.lora_rank, args.bf16,
                 augment=FrameMasking() if args.mask else None, lora_targets=targets)
    for path in export(model, args.out, args.lora_rank if args.stage != "align" else 0):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
