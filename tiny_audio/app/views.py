"""What the page shows for one result: every output component's value, the help beside each
view, and the JSON download."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

import gradio as gr

from tiny_audio.loading.weights.cache import atomic_path
from tiny_audio.pipeline.baseline import Baseline
from tiny_audio.pipeline.decoding import decoding_text
from tiny_audio.pipeline.result import TranscriptionResult
from tiny_audio.report import plots, stage_tables, verdict
from tiny_audio.report.table import Table
from tiny_audio.report.words import word_diff, word_error_rate

OUTPUTS = ("transcript", "notice", "info", "stats", "stages", "overlay", "gap", "norms", "trace", "dims", "tokens",
           "download", "verdict", "story", "agreement")
# What a press shows as soon as the transcript is ready; the figures follow.
FIRST = ("transcript", "notice", "info")
# Redrawn to fit a narrow screen (a phone) once the run is in.
NARROW = ("stages", "tokens")
NARROW_PX = 700  # below this page width figures are drawn for a phone

INTRO = """# Projector Lab
Speak or upload a clip (or pick an example), press **Transcribe**, and watch your audio travel through
a speech LLM: **encoder** (audio → 50 frames/s) → **projector** (stacks 5 frames into one, then a small
network) → **decoder LLM**, which reads the projected frames as if they were its own token embeddings
(the vectors it has for words). Every figure comes from the same single pass that wrote the transcript."""

STAGES_HELP = """Each panel is one stage, in pipeline order: x is the value, y how many of the stage's
numbers have it; the dashed line marks the mean. Watch the spread (σ): stacking keeps the encoder's
scale, **RMSNorm** (rescaling each vector to a fixed size) resets it to ~1, the **SwiGLU** (a gated
layer: one projection times the smooth gate of another) makes it sparse and peaked, and the last
RMSNorm sets the scale the LLM will see. **post-norm** (the projector's output) sits beside the
**LLM token embeddings** (the LLM's own vectors for every word piece): the pair that should match.
**generated tokens**: the embeddings of the word pieces the LLM wrote for this clip."""

OVERLAY_HELP = """Does the projector's output look like the token embeddings the LLM was trained on?
The table puts each number beside the same number for an **untrained projector** of the same shape
(random weights, seed 0) run on the same encoder frames: the scale of "not yet learned". Below, each
output dimension's mean and spread against the embeddings', then both value distributions as
densities (values outside the embeddings' range are counted, not hidden)."""

NORMS_HELP = """Length (L2 norm) of each audio token the LLM receives, against the typical length of a
real token embedding (dashed). The final RMSNorm gives every frame nearly the same norm, so the bars
are flat by design: what matters is how far they sit from the dashed line."""

TRACE_HELP = """The shape at every step, and how much audio each frame or audio token covers (the
course's Exercise 1)."""

DIMS_HELP = """Variance of each of the projector's output dimensions across the clip's frames, sorted (the
course's "dimension importance"). A few dominant dimensions mean the audio uses little of the
embedding space."""

TOKENS_HELP = """For each projected frame (~100 ms of audio), the three vocabulary tokens whose embeddings
point the most the same way (cosine similarity): what the LLM "reads" there. Darker = more similar;
␣ is a space. Drag sideways to scroll through the clip."""

# The run's timings under the names the page uses.
TIMING_NAMES = {"prefill": "prompt read (prefill)", "trace": "statistics"}


def empty_views() -> dict:
    """Every output cleared: what the page shows while a new clip runs, after an error, or once
    the input has changed (so that no result sits beside a clip it does not belong to)."""
    shown = {name: None for name in OUTPUTS}
    shown.update(transcript="", notice="", info="", verdict="", gap="")
    return shown


def result_views_text(result: TranscriptionResult) -> dict:
    """The transcript and the lines about the run: what the page shows before the figures."""
    timings = " · ".join(f"{TIMING_NAMES.get(name, name)} {1000 * sec:.0f} ms" for name, sec in result.timings.items())
    info = (
        f"**{result.model_name}** on `{result.device}` ({result.dtype}) · {result.duration_s:.2f} s of audio · "
        f"{len(result.token_ids)} tokens written ({decoding_text(result.beams)})\n\ntime taken: {timings}"
    )
    return {"transcript": result.text, "notice": f"⚠️ {result.notice}" if result.notice else "", "info": info}


STORY_TITLE = "The scale of the values at each stage"


def in_view_figures(result: TranscriptionResult, log_y: bool, shared_range: bool, compact: bool = False) -> dict:
    """The figures in the first view on a laptop, by output name: sent before the rest is
    computed, so that the browser draws them while the server works."""
    return {
        "stages": plots.stage_histograms(result, log_y=log_y, shared_range=shared_range, compact=compact),
        "story": plots.stage_story(result, STORY_TITLE),
    }


def result_views(samples, result: TranscriptionResult, log_y: bool, shared_range: bool,
                 baseline: Optional[Baseline] = None, compact: bool = False, in_view: Optional[dict] = None) -> dict:
    """Everything the page shows for one result, by output name. ``baseline``: the untrained
    projector on the same frames, for the verdict; ``compact``: figures for a phone's width;
    ``in_view``: the figures of ``in_view_figures`` if they were already built."""
    in_view = in_view or in_view_figures(result, log_y, shared_range, compact)
    gap = stage_tables.comparison_table(result).to_markdown()
    if baseline is not None:
        gap = verdict.verdict_table(baseline).to_markdown() + "\n\n" + gap
    return {
        **result_views_text(result),
        "stats": _table(stage_tables.stats_table(result)),
        **in_view,
        "overlay": plots.projector_vs_llm(result),
        "gap": gap,
        "norms": plots.frame_norms(result),
        "trace": _table(stage_tables.trace_table(result)),
        "dims": plots.dimension_variance(result),
        "tokens": plots.nearest_tokens(result, waveform=samples, compact=compact),
        "download": write_json(result),
        "verdict": verdict.verdict_line(baseline) if baseline is not None else "",
        "agreement": plots.dimension_agreement(baseline) if baseline is not None else None,
    }


def words_view(reference: str, transcript: str) -> str:
    """For an example clip: the word error rate against its reference text and the word diff."""
    if not (reference or "").strip() or not (transcript or "").strip():
        return ""
    rate = word_error_rate(reference, transcript)
    head = f"**Word error rate {rate:.0%}** against the example's reference text (0% = every word right)"
    if rate == 0:
        return head
    return f"{head} · {word_diff(reference, transcript)} (~~missed~~ **heard instead**)"


# Download files live in one folder per process; only the newest few are kept (Gradio serves its
# own copy of each, so older ones are no longer needed). The folder goes when the process ends, and
# folders of processes that died without cleaning up go when the next one starts.
DOWNLOADS_PREFIX = "projector-lab-"
DOWNLOADS = Path(tempfile.gettempdir()) / f"{DOWNLOADS_PREFIX}{os.getpid()}"
KEEP_DOWNLOADS = 16


def remove_downloads(folder: Path | None = None) -> None:
    shutil.rmtree(folder or DOWNLOADS, ignore_errors=True)


def remove_orphaned_downloads(root: Path | None = None) -> list[Path]:
    """Delete the download folders of processes that are no longer running; returns them."""
    removed = []
    for folder in (root or DOWNLOADS.parent).glob(f"{DOWNLOADS_PREFIX}*"):
        pid = folder.name.removeprefix(DOWNLOADS_PREFIX)
        if folder.is_dir() and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


atexit.register(remove_downloads)


def write_json(result: TranscriptionResult) -> str:
    """The run's statistics and histograms as a JSON file, written whole or not at all."""
    DOWNLOADS.mkdir(exist_ok=True)
    runs = sorted(d for d in DOWNLOADS.iterdir() if d.is_dir())  # names start with the time: oldest first
    for old in runs[: max(0, len(runs) - KEEP_DOWNLOADS + 1)]:
        shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{time.time_ns():020d}-", dir=DOWNLOADS))
    final = folder / "projector_lab_trace.json"
    with atomic_path(final) as partial:
        partial.write_text(json.dumps(result.to_dict(), indent=1))
    return str(final)


def _table(table: Table):
    return gr.Dataframe(value=table.rows, headers=table.headers, interactive=False, wrap=True)
