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
import json
import sys
from pathlib import Path
from typing import Optional

import torch

from tiny_audio.pipeline.history import read_lines
from tiny_audio.loading.nano import NANO_LORA, NANO_LORA_CONFIG, NANO_PROJECTOR
from tiny_audio.loading.weights.cache import atomic_path
from tiny_audio.pipeline.lora import DEFAULT_TARGETS, TARGET_SETS, add_lora, lora_state_dict, wrapped_targets
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.training.data import Example, FrameMasking, load_examples, repeat_kind, split_validation
from tiny_audio.training.history import HistoryRecorder, probe_clips
from tiny_audio.training.loop import LossLog, StageConfig, restore, run_stage
from tiny_audio.training.losses import EmbeddingCTCHead, SequenceBuilder, align_vocabulary, ctc_loss, lm_loss

LORA_ALPHA_PER_RANK = 2.0  # alpha = 2 × rank, the usual choice


# ----- the two stages end to end ---------------------------------------------------------


def train_align(model: AudioLLM, train: list[Example], val: list[Example], out: Path, config: StageConfig,
                log: LossLog, progress: bool = True, history: Optional[HistoryRecorder] = None) -> list[float]:
    vocab = align_vocabulary(train, model.stop_ids)
    head = EmbeddingCTCHead(model.decoder.get_input_embeddings().weight, vocab)
    for p in model.projector.parameters():
        p.requires_grad_(True)
    losses = run_stage(config, {"projector": model.projector, "head": head},
                       lambda batch: ctc_loss(model, head, batch), train, val, out, log, progress, history=history)
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
             augment: Optional[FrameMasking] = None, lora_targets: tuple[str, ...] = DEFAULT_TARGETS,
             history: Optional[HistoryRecorder] = None) -> list[float]:
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
                     train, val, out, log, progress, augment, history)


def export(model: AudioLLM, out: Path, lora_rank: int) -> list[Path]:
    """float16 safetensors of the projector (and the adapter), as ``load_model`` reads them."""
    from safetensors.torch import save_file

    written = [out / NANO_PROJECTOR]
    projector = {k: v.detach().to(torch.float16).contiguous() for k, v in model.projector.state_dict().items()}
    with atomic_path(out / NANO_PROJECTOR) as partial:
        save_file(projector, str(partial))
    if not lora_rank:  # no adapter: one left from an earlier run must not be merged with this projector
        for name in (NANO_LORA, NANO_LORA_CONFIG):
            (out / name).unlink(missing_ok=True)
        return written
    adapter = {k: v.to(torch.float16).contiguous() for k, v in lora_state_dict(model.decoder).items()}
    with atomic_path(out / NANO_LORA) as partial:
        save_file(adapter, str(partial))
    config = {"rank": lora_rank, "alpha": LORA_ALPHA_PER_RANK * lora_rank, "targets": wrapped_targets(model.decoder)}
    with atomic_path(out / NANO_LORA_CONFIG) as partial:
        partial.write_text(json.dumps(config, indent=1))
    return written + [out / NANO_LORA, out / NANO_LORA_CONFIG]


def load_projector_checkpoint(model: AudioLLM, path: Path) -> None:
    """The projector from a finished stage's checkpoint (the lm stage starts from align's)."""
    state = torch.load(path, weights_only=False)
    restore(model.projector, state["modules"]["projector"])


def check_init(run: Path, lora_rank: int, lora_targets: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless an lm stage with this adapter can go on from ``run``'s weights.
    The projector was trained with (or without) that run's adapter, so the rank must match; the
    adapter may grow to more layers, never shrink."""
    adapter = run / NANO_LORA_CONFIG
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
    model.projector.load_state_dict({k: v.float() for k, v in load_file(run / NANO_PROJECTOR).items()})
    if lora_rank:
        add_lora(model.decoder, rank=lora_rank, alpha=LORA_ALPHA_PER_RANK * lora_rank, targets=lora_targets)
        restore(model.decoder, {k: v.float() for k, v in load_file(run / NANO_LORA).items()})


def kept_step(log: LossLog, stage: str, keep: str) -> int:
    """The step whose weights a stage exported: its last, or its best validated one."""
    entries = [e for e in log.read() if e["stage"] == stage]
    if keep == "best" and any("val_loss" in e for e in entries):
        return min((e["val_loss"], e["step"]) for e in entries if "val_loss" in e)[1]
    return max((e["step"] for e in entries), default=0)


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
    parser.add_argument("--human-repeat", type=int, default=1,
                        help="hear each real human training clip this many times an epoch (they are few)")
    parser.add_argument("--history-every", type=int, default=100,
                        help="snapshot the model on the probe clips every this many steps (0: never)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.human_repeat < 1:
        parser.error("--human-repeat must be at least 1")
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
        if (before.get("lora_rank"), before.get("lora_targets", "qv")) != (args.lora_rank, args.lora_targets):
            parser.error(f"{args.out / 'lm.pt'} was trained with --lora-rank {before.get('lora_rank')} "
                         f"--lora-targets {before.get('lora_targets', 'qv')}; rerun with those")

    from tiny_audio.loading.nano import load_nano

    torch.manual_seed(args.seed)
    model = load_nano(device="cpu", dtype=torch.float32, weights=None)
    cache = args.cache or args.dataset / "encoder-whisper-tiny.en"
    train, val = split_validation(load_examples(args.dataset, cache, model.tokenizer), args.val)
    humans = sum(e.kind == "human" for e in train)
    train = repeat_kind(train, "human", args.human_repeat)
    print(f"{len(train)} training examples ({humans} human clips × {args.human_repeat}), {len(val)} for validation",
          file=sys.stderr)
    log = LossLog(args.out / "loss.jsonl")
    (args.out / "args.json").write_text(json.dumps(
        {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "machine": machine(),
         "data": {"train_clips": len(train) - humans * (args.human_repeat - 1), "human_train_clips": humans,
                  "train_examples": len(train), "val_clips": len(val)}}, indent=1))
    common = dict(save_every=args.save_every, val_every=args.save_every, seed=args.seed, keep=args.keep)
    history = None
    if args.history_every:
        history = HistoryRecorder(model, probe_clips(args.dataset), args.out, args.history_every)
        history.start({"how": f"warm from {args.init.name}/" if args.init else "fresh"}, args.init)
    if args.init:
        if history and not any(e["type"] == "snapshot" for e in read_lines(history.path)):
            history.record("init", 0)  # where nothing has been trained yet: the lesson's baseline
        warm_start(model, args.init, args.lora_rank, targets)
    elif args.stage in ("align", "both"):
        config = StageConfig("align", args.align_steps, args.align_batch, args.align_lr,
                             warmup=max(1, args.align_steps // 20), **common)
        train_align(model, train, val, args.out, config, log, history=history)
    else:
        best = args.out / "align-best.pt"
        load_projector_checkpoint(model, best if args.keep == "best" and best.is_file() else args.out / "align.pt")
        match_embedding_scale(model)
    if args.stage in ("lm", "both"):
        config = StageConfig("lm", args.lm_steps, args.lm_batch, args.lm_lr,
                             warmup=max(1, args.lm_steps // 20), **common)
        train_lm(model, train, val, args.out, config, log, args.lora_rank, args.bf16,
                 augment=FrameMasking() if args.mask else None, lora_targets=targets, history=history)
    for path in export(model, args.out, args.lora_rank if args.stage != "align" else 0):
        print(path)
    if history:
        history.drop_after("export", -1)
        exported = load_nano(device="cpu", dtype=torch.float32, weights=args.out)  # as the app loads them
        history.record("export", kept_step(log, "lm" if args.stage != "align" else "align", args.keep), model=exported)
    return 0


if __name__ == "__main__":
    sys.exit(main())
