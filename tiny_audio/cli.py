"""Command line: ``python -m tiny_audio trace FILE`` prints the transcript and every stage."""

from __future__ import annotations

import argparse
import json
import sys

from .audio import AudioError

TRACE_HELP = "transcribe a clip and print the shape and statistics of every pipeline stage"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tiny_audio", description="Projector Lab pipeline tools")
    commands = parser.add_subparsers(dest="command", required=True)

    trace = commands.add_parser("trace", help=TRACE_HELP, description=TRACE_HELP)
    trace.add_argument("file", help="audio file (wav, flac, ogg, mp3; any rate, mono or stereo)")
    trace.add_argument("--model", default=None, help="'nano' (default), a Tiny Audio checkpoint directory or Hub id")
    trace.add_argument("--encoder", help="encoder id or directory (with --decoder: compose any pair)")
    trace.add_argument("--decoder", help="causal LM id or directory")
    trace.add_argument("--projector-weights", help="safetensors file with projector weights for --encoder/--decoder")
    trace.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    trace.add_argument("--max-new-tokens", type=int, default=None)
    trace.add_argument("--json", action="store_true", help="print the whole result as JSON")

    args = parser.parse_args(argv)
    if args.command == "trace":
        return run_trace(args)
    return 2


def run_trace(args: argparse.Namespace) -> int:
    from .audio import load_audio
    from .encoders import WHISPER_WINDOW_SECONDS
    from .loading import load_model

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
        result = model.transcribe(samples, max_new_tokens=args.max_new_tokens)
    except (AudioError, ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        print(format_report(result, model.projector.k))
    return 0


def format_report(result, k: int) -> str:
    """The course's Exercise 1 table: shapes and statistics at every step, then the summary."""
    lines = [f"model:      {result.model_name}  [{result.device}, {result.dtype}]"]
    if result.notice:
        lines.append(f"NOTICE:     {result.notice}")
    lines.append(f"transcript: {result.text!r}")
    lines.append("")
    header = f"{'stage':<22}{'shape':<20}{'mean':>10}{'std':>10}{'min':>10}{'max':>10}{'rms':>10}{'zeros':>8}"
    lines += [header, "-" * len(header)]
    for s in result.stages:
        shape = "×".join(str(d) for d in s.shape)
        lines.append(
            f"{s.name:<22}{shape:<20}{s.mean:>10.4f}{s.std:>10.4f}{s.min:>10.3f}{s.max:>10.3f}"
            f"{s.rms:>10.4f}{s.zero_fraction:>8.1%}"
        )
    if result.native is not None:
        n = result.native.stats
        shape = "×".join(str(d) for d in n.shape)
        lines.append(
            f"{'LLM token embeddings':<22}{shape:<20}{n.mean:>10.4f}{n.std:>10.4f}{n.min:>10.3f}{n.max:>10.3f}"
            f"{n.rms:>10.4f}{n.zero_fraction:>8.1%}"
        )
    trace = result.trace
    if trace is not None:
        frames_in = trace.stages[0].shape[1]
        frames_out = trace.stages[1].shape[1]
        lines.append("")
        lines.append(
            f"time: {frames_in} encoder frames → {frames_out} LLM audio tokens "
            f"({frames_in / frames_out:.1f}× fewer, k={k}); "
            f"{1000 * result.duration_s / frames_in:.1f} ms of audio per encoder frame, "
            f"{1000 * result.duration_s / frames_out:.1f} ms per audio token"
        )
        if trace.comparison:
            c = trace.comparison
            lines.append(
                f"projector output vs LLM embeddings: RMS ratio {c.rms_ratio:.2f}, std ratio {c.std_ratio:.2f}, "
                f"mean gap {c.mean_gap:+.4f}, total variation {c.total_variation:.2f}, "
                f"{c.outside_fraction:.1%} of values outside the embeddings' range"
            )
    lines.append("")
    lines.append("timings: " + ", ".join(f"{name} {1000 * sec:.0f} ms" for name, sec in result.timings.items()))
    return "\n".join(lines)
