"""The tables of one run, built once for the CLI and the app: statistics of every stage, the
course's Exercise 1 trace, and how far the projector's output is from the LLM's embeddings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiny_audio.pipeline.stages import ENCODER, GENERATED_TOKENS
from tiny_audio.report.numbers import shape_text, sig4
from tiny_audio.report.table import Table

if TYPE_CHECKING:
    from tiny_audio.pipeline.result import TranscriptionResult

STATS_HEADERS = ["stage", "shape", "mean", "std", "min", "max", "RMS", "% zeros"]


def stats_table(result: TranscriptionResult) -> Table:
    """The per-stage statistics, stages in pipeline order, then the LLM's embeddings."""
    stages = list(result.stages)
    if result.native is not None and stages:
        stages.append(result.native.stats)
    rows = [
        [s.name, shape_text(s.shape), *(sig4(v) for v in (s.mean, s.std, s.min, s.max, s.rms)),
         sig4(100 * s.zero_fraction)]
        for s in stages
    ]
    return Table(list(STATS_HEADERS), rows)


def trace_table(result: TranscriptionResult) -> Table:
    """The course's Exercise 1 table: how the encoder's frames become the LLM's audio tokens.

    Time reduction is measured (encoder frames / stage frames), so it shows the padding that
    makes it differ slightly from the stack rate k. Every audio token covers exactly k encoder
    frames of audio (the last one partly zero padding when the stack pads)."""
    headers = ["stage", "shape", "frames", "feature dim", f"time reduction (k={result.k})", "ms of audio per frame"]
    stages = [s for s in result.stages if s.name != GENERATED_TOKENS]
    if not stages:
        return Table(headers, [])
    encoder_frames = stages[0].shape[-2]
    rows = []
    for s in stages:
        frames, dim = s.shape[-2], s.shape[-1]
        ms = result.encoder_frame_ms if result.role(s.name) == ENCODER else result.audio_token_ms
        rows.append([s.name, shape_text(s.shape), str(frames), str(dim), f"{encoder_frames / frames:.2f}×", f"{ms:.1f}"])
    return Table(headers, rows, notes=[timing_line(result)])


def timing_line(result: TranscriptionResult) -> str:
    """Frames to tokens in one line, with the audio each covers."""
    frames, tokens = result.encoder_frames, result.audio_tokens
    padding = ""
    if frames % result.k:
        missing = result.k - frames % result.k
        padding = (f"; the last token's {missing} missing frames are zeros" if result.stack_mode == "pad"
                   else f"; the last {frames % result.k} frames fill no token and are dropped")
    return (f"{frames} encoder frames → {tokens} LLM audio tokens (k={result.k}): "
            f"{result.encoder_frame_ms:.0f} ms of audio per encoder frame, {result.audio_token_ms:.0f} ms per audio "
            f"token{padding}")


def comparison_table(result: TranscriptionResult) -> Table:
    """The projector's output against the LLM's own token embeddings, each number with how to read it."""
    headers = ["measure", "value", "reads as"]
    if result.trace is None or result.trace.comparison is None or result.native is None:
        return Table(headers, [], align="lrl")
    c = result.trace.comparison
    norms = result.trace.frame_norms
    mean_norm = sum(norms) / len(norms) if norms else float("nan")
    typical = result.native.typical_row_norm
    rows = [
        ["RMS ratio (projector ÷ token embeddings)", f"{c.rms_ratio:.2f}", "1.0 = same loudness"],
        ["std ratio", f"{c.std_ratio:.2f}", "1.0 = same spread"],
        ["mean gap", f"{c.mean_gap:+.4f}", "0 = same centre"],
        ["total variation distance", f"{c.total_variation:.2f}", "0 = identical histograms, 1 = disjoint"],
        ["values outside the embeddings' range", f"{c.outside_fraction:.1%}", ""],
        ["mean audio-token norm ÷ typical token norm", f"{mean_norm / typical:.2f}",
         f"{mean_norm:.2f} vs {typical:.2f}"],
    ]
    return Table(headers, rows, align="lrl")
