"""Command line: ``python -m tiny_audio COMMAND``.

``trace FILE`` prints the transcript and every stage; ``explore {rates,activations,configs,decoders}``
runs the course's experiments; ``history [RUN]`` tables a training run's snapshots (default: the
shipped model's). The other commands belong to their own rooms and parse their own
arguments: ``live`` (the local microphone) and the training chain, ``dataset``, ``encoder-cache``,
``train``, ``eval`` and ``model-card``.
"""

from __future__ import annotations

import argparse
import json
import sys

from tiny_audio.arguments import positive_int
from tiny_audio.pipeline.audio import AudioError

TRACE_HELP = "transcribe a clip and print the shape and statistics of every pipeline stage"
EXPLORE_HELP = "the course's experiments, computed from real modules"
HISTORY_HELP = "the training history: each snapshot's transcripts and distributions, a row per step"


# Commands whose module has its own ``main(argv)``: (module, one-line help).
DELEGATED = {
    "live": ("tiny_audio.live.cli", "transcribe the local microphone (or a file at real-time pace) live"),
    "dataset": ("tiny_audio.training.dataset", "build the nano model's training data"),
    "encoder-cache": ("tiny_audio.training.encoder_cache", "run the frozen encoder once over a data set"),
    "train": ("tiny_audio.training.train", "train the nano projector (and its LoRA adapter)"),
    "eval": ("tiny_audio.training.evaluate", "word error rates of nano beside Whisper tiny.en"),
    "model-card": ("tiny_audio.training.model_card", "ship a training run into assets/ with its card"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        import importlib

        return importlib.import_module(DELEGATED[argv[0]][0]).main(argv[1:])

    parser = argparse.ArgumentParser(prog="python -m tiny_audio", description="Projector Lab pipeline tools")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in DELEGATED.items():
        commands.add_parser(name, help=help_text, add_help=False)  # listed here, parsed by its module

    trace = commands.add_parser("trace", help=TRACE_HELP, description=TRACE_HELP)
    trace.add_argument("file", help="audio file (wav, flac, ogg, mp3; any rate, mono or stereo)")
    trace.add_argument("--model", default=None, help="'nano' (default), a Tiny Audio checkpoint directory, or a Hub "
                       "id with an optional @REVISION (branch, tag or commit)")
    trace.add_argument("--encoder", help="encoder id or directory (with --decoder: compose any pair)")
    trace.add_argument("--decoder", help="causal LM id or directory")
    trace.add_argument("--projector-weights", help="safetensors file with projector weights for --encoder/--decoder")
    trace.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    trace.add_argument("--max-new-tokens", type=positive_int, default=None)
    trace.add_argument("--beams", type=positive_int, default=None,
                       help="1: greedy decoding; more: beam search (default: the model's own, 4 for the trained nano)")
    trace.add_argument("--json", action="store_true", help="print the whole result as JSON")

    add_explore_parser(commands)
    history = commands.add_parser("history", help=HISTORY_HELP, description=HISTORY_HELP)
    history.add_argument("source", nargs="?", default=None,
                         help="a training run's folder, or assets/ (default) for the shipped model's history")
    history.add_argument("--json", action="store_true", help="an object whose 'steps' list holds one entry per snapshot")

    args = parser.parse_args(argv)
    if args.command == "trace":
        return run_trace(args)
    if args.command == "explore":
        return run_explore(args)
    if args.command == "history":
        return run_history(args)
    return 2


def run_history(args: argparse.Namespace) -> int:
    from tiny_audio.paths import ASSETS
    from tiny_audio.pipeline.history import load_history
    from tiny_audio.report.history_tables import history_steps, history_table

    try:
        history = load_history(args.source or ASSETS)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"probes": [vars(p) for p in history.probes], "joins": history.joins,
                          "steps": history_steps(history)}, indent=1))
    else:
        print(history_table(history).to_text())
    return 0


def run_trace(args: argparse.Namespace) -> int:
    from tiny_audio.loading.load import load_model
    from tiny_audio.pipeline.audio import load_audio
    from tiny_audio.pipeline.encoders import WHISPER_WINDOW_SECONDS

    try:
        # Check the audio before spending seconds on loading a model.
        samples = load_audio(args.file, max_seconds=WHISPER_WINDOW_SECONDS)
        model = load_model(
            args.model,
            encoder=args.encoder,
            decoder=args.decoder,
            projector_weights=args.projector_weights,
            device=args.device,
        )
        result = model.transcribe(samples, max_new_tokens=args.max_new_tokens, beams=args.beams)
    except (AudioError, ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        print(format_report(result))
    return 0


def format_report(result) -> str:
    """The transcript, then the course's Exercise 1 view: every stage's shape and statistics,
    how frames become audio tokens, and how close the projector's output is to the LLM's embeddings."""
    from tiny_audio.pipeline.decoding import decoding_text
    from tiny_audio.report.stage_tables import comparison_table, stats_table, timing_line

    lines = [f"model:      {result.model_name}  [{result.device}, {result.dtype}]"]
    lines.append(f"decoding:   {decoding_text(result.beams)}")
    if result.notice:
        lines.append(f"NOTICE:     {result.notice}")
    lines.append(f"transcript: {result.text!r}")
    if result.trace is not None:
        lines += ["", stats_table(result).to_text(), "", f"time: {timing_line(result)}"]
        comparison = comparison_table(result)
        if comparison.rows:
            lines += ["", "projector output vs LLM embeddings:", comparison.to_text()]
    lines.append("")
    lines.append("timings: " + ", ".join(f"{name} {1000 * sec:.0f} ms" for name, sec in result.timings.items()))
    return "\n".join(lines)


# ----- explore ---------------------------------------------------------------------------------


def add_explore_parser(commands) -> None:
    explore = commands.add_parser("explore", help=EXPLORE_HELP, description=EXPLORE_HELP)
    what = explore.add_subparsers(dest="what", required=True)

    def common(sub, model: bool) -> None:
        sub.add_argument("--json", action="store_true", help="print machine-readable JSON")
        if model:
            sub.add_argument("--model", default=None,
                             help="'nano' (default), a Tiny Audio checkpoint dir, or a Hub id[@REVISION]")
            sub.add_argument("--device", help="cuda, mps or cpu (default: the best available)")

    rates = what.add_parser("rates", help="frame-stack rates: LLM tokens, ms per token, embedding memory")
    rates.add_argument("file", nargs="?", help="audio file; without it, the course's 3.0 s clip (149 frames, 2048-d)")
    rates.add_argument("--rates", type=_int_list, default=(2, 3, 5, 8, 10), help="comma-separated (default 2,3,5,8,10)")
    rates.add_argument("--custom", type=_int_list, default=(), help="extra comma-separated rates")
    rates.add_argument("--mode", choices=("pad", "truncate"), help="default: the model's own (pad without a file)")
    rates.add_argument("--frames", type=int, default=149, help="encoder frames, without a file")
    rates.add_argument("--llm-dim", type=int, default=2048, help="LLM hidden size, without a file")
    common(rates, model=True)

    acts = what.add_parser("activations", help="ReLU/GELU/SiLU/Tanh and GLU variants on a clip's gate pre-activations")
    acts.add_argument("file", help="audio file")
    acts.add_argument("--bins", type=int, default=100)
    acts.add_argument("--seed", type=int, default=0, help="seed of the random-normal contrast and gradient probe")
    common(acts, model=True)

    configs = what.add_parser("configs", help="projector configurations: parameters counted on the meta device")
    configs.add_argument("--custom", action="append", type=_config, default=[], metavar="ENC,K,HIDDEN,LLM",
                         help="an extra configuration (repeatable)")
    configs.add_argument("--duration", type=float, default=3.0, help="clip length in seconds (default 3.0)")
    configs.add_argument("--frames", type=int, default=None, help="encoder frames (default: HuBERT's, for --duration)")
    common(configs, model=False)

    decoders = what.add_parser("decoders", help="published decoder configs, sizes counted on meta, LoRA memory")
    decoders.add_argument("--rank", type=int, default=64, help="LoRA rank (default 64, the course's)")
    common(decoders, model=False)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"values must be positive, got {text!r}")
    return values


def _config(text: str) -> tuple[int, int, int, int]:
    values = _int_list(text)
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected ENC,K,HIDDEN,LLM (four integers), got {text!r}")
    return values


def run_explore(args: argparse.Namespace) -> int:
    from tiny_audio.explore.common import to_jsonable

    try:
        if args.what == "rates":
            data, text = _explore_rates(args)
        elif args.what == "activations":
            data, text = _explore_activations(args)
        elif args.what == "configs":
            data, text = _explore_configs(args)
        else:
            data, text = _explore_decoders(args)
    except (AudioError, ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(to_jsonable(data), indent=1) if args.json else text)
    return 0


def _load(args):
    from tiny_audio.loading.load import load_model
    from tiny_audio.pipeline.audio import load_audio
    from tiny_audio.pipeline.encoders import WHISPER_WINDOW_SECONDS

    samples = load_audio(args.file, max_seconds=WHISPER_WINDOW_SECONDS)  # before seconds of model loading
    return load_model(args.model, device=args.device), samples


def _explore_rates(args):
    from tiny_audio.explore.rates import downsampling_table, model_stacking

    if args.file is None:
        mode = args.mode or "pad"
        rows = downsampling_table(args.frames, args.llm_dim, args.rates, args.custom, mode)
        return {"rates": rows}, _rates_text(rows, args.llm_dim)
    model, samples = _load(args)
    # The transcript plays no part here: one token is enough to get the traced frames.
    result = model.transcribe(samples, max_new_tokens=1, beams=1)
    stacking = model_stacking(model, result)
    mode = args.mode or stacking.mode
    rows = downsampling_table(stacking.frames_in, stacking.llm_dim, args.rates, args.custom, mode)
    text = f"model: {result.model_name}\n{stacking.summary}\n\n" + _rates_text(rows, stacking.llm_dim, stacking.k)
    return {"model": result.model_name, "stacking": stacking, "rates": rows}, text


def _rates_text(rows, llm_dim: int, model_k: int | None = None) -> str:
    from tiny_audio.report.explore_tables import rates_table

    first = rows[0]  # every row has the clip's frame count and the stacking mode
    header = f"{first.frames_in} encoder frames, {first.mode} mode, {llm_dim}-d LLM embeddings"
    return header + "\n" + rates_table(rows, model_k).to_text()


def _explore_activations(args):
    from tiny_audio.explore.activations import study_activations
    from tiny_audio.report.explore_tables import activations_table

    model, samples = _load(args)
    report = study_activations(model, samples, bins=args.bins, seed=args.seed)
    lines = [f"model: {report.model_name}"]
    if not report.projector_trained:
        lines.append("NOTICE: untrained projector: its gate weights are random, so the 'clip' rows see random features")
    shape = "×".join(map(str, report.gate_shape))
    lines.append(
        f"gate pre-activations {shape} from {report.encoder_frames} encoder frames "
        f"({report.duration_s:.2f} s): mean {report.gate_mean:.4f}, std {report.gate_std:.4f}"
    )
    return report, "\n".join(lines) + "\n\n" + activations_table(report).to_text()


def _explore_configs(args):
    from tiny_audio.explore.configs import projector_configs
    from tiny_audio.report.explore_tables import configs_table

    rows = projector_configs(args.custom, duration_s=args.duration, encoder_frames=args.frames)
    table = configs_table(rows, course_clip=args.frames is None and args.duration == 3.0)
    header = f"clip: {rows[0].frames_in} encoder frames; parameters counted from modules on the meta device"
    return rows, header + "\n\n" + table.to_text()


def _explore_decoders(args):
    from tiny_audio.explore.decoders import decoder_table
    from tiny_audio.report.explore_tables import decoders_table

    report = decoder_table(rank=args.rank)
    return report, decoders_table(report).to_text()
