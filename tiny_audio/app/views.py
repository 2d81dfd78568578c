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

import gradio as gr

from tiny_audio.loading.weights.cache import atomic_path
from tiny_audio.pipeline.decoding import decoding_text
from tiny_audio.pipeline.result import TranscriptionResult
from tiny_audio.report import plots, stage_tables
from tiny_audio.report.table import Table

OUTPUTS = ("transcript", "notice", "info", "stats", "stages", "overlay", "gap", "norms", "trace", "dims", "tokens",
           "download")

INTRO = """# Projector Lab
Speak or upload a clip, press **Transcribe**, and watch your audio travel through a speech LLM:
**encoder** (audio → 50 frames/s) → **projector** (stack 5 frames, RMSNorm, SwiGLU, down-projection,
RMSNorm) → **decoder LLM** (reads the projected frames as if they were token embeddings).
Every histogram is computed from the same single forward pass that produced the transcript."""

STAGES_HELP = """Each panel is one stage, in pipeline order; the dashed line marks its mean. Watch the
spread (σ): stacking keeps the encoder's scale, **RMSNorm** resets it to ~1, the **SwiGLU** product is
sparse and peaked, and the final RMSNorm sets the scale the LLM will see. The last panel is the LLM's
own token-embedding table — what the projector's output should resemble."""

OVERLAY_HELP = """Does the projector's output look like the token embeddings the LLM was trained on? Both
are drawn as densities on the embeddings' bins; values outside the embeddings' range are counted,
not hidden. An untrained projector is typically several times too loud."""

NORMS_HELP = """Length (L2 norm) of each audio token the LLM receives, against the typical length of a
real token embedding (dashed). The final RMSNorm gives every frame nearly the same norm (√dim × its
weight), so the bars are flat; the question is how far they sit from the dashed line."""

DIMS_HELP = """Variance of each of the projector's output dimensions across the clip's frames, sorted (the
course's "dimension importance"). A few dominant dimensions mean the audio uses little of the
embedding space."""

TOKENS_HELP = """For each projected frame (~100 ms of audio), the three vocabulary tokens whose embeddings
are nearest by cosine: what the LLM "reads" there. Darker = more similar. Drag sideways to scroll."""


def result_views(samples, result: TranscriptionResult, log_y: bool, shared_range: bool) -> dict:
    """Everything the page shows for one result, by output name."""
    timings = " · ".join(f"{name} {1000 * sec:.0f} ms" for name, sec in result.timings.items())
    tokens = len(result.token_ids)
    info = (
        f"**{result.model_name}** on `{result.device}` ({result.dtype}) · {result.duration_s:.2f} s of audio · "
        f"{tokens} tokens generated ({decoding_text(result.beams)})\n\n{timings}"
    )
    notice = f"⚠️ {result.notice}" if result.notice else ""
    return {
        "transcript": result.text,
        "notice": notice,
        "info": info,
        "stats": _table(stage_tables.stats_table(result)),
        "stages": plots.stage_histograms(result, log_y=log_y, shared_range=shared_range),
        "overlay": plots.projector_vs_llm(result),
        "gap": stage_tables.comparison_table(result).to_markdown(),
        "norms": plots.frame_norms(result),
        "trace": _table(stage_tables.trace_table(result)),
        "dims": plots.dimension_variance(result),
        "tokens": plots.nearest_tokens(result, waveform=samples),
        "download": write_json(result),
    }


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
