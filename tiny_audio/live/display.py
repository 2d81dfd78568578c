"""How the local live demo shows its updates: lines redrawn in the terminal, and a
self-refreshing HTML page with the stage plots."""

from __future__ import annotations

import html
import shutil
import sys
import textwrap
import time
from pathlib import Path
from typing import Optional

from tiny_audio.live.streaming import LiveSession, LiveUpdate
from tiny_audio.loading.weights.cache import atomic_path
from tiny_audio.pipeline.stages import ENCODER_OUTPUT, GENERATED_TOKENS, STACKED

HTML_REFRESH_S = 2
TRANSCRIPT_LINES = 4  # the rolling transcript keeps the last few lines on screen

# Short names for the stage line; other stages keep their first word.
STAGE_ABBREVIATIONS = {
    ENCODER_OUTPUT: "enc",
    STACKED: "stack",
    "pre-norm": "pre",
    "post-norm": "post",
    GENERATED_TOKENS: "gen",
}


def abbreviate(name: str) -> str:
    return STAGE_ABBREVIATIONS.get(name, name.split()[0][:6])


def stage_line(update: LiveUpdate, width: int = 1000) -> str:
    """``rms/std  enc 1.25/1.25 · stack 1.23/1.23 · … · post 1/1``; when that is wider than the
    terminal, only the encoder, the projector's output and the generated tokens stay."""
    stages = list(update.result.stages)
    if not stages:
        return ""

    def line(chosen) -> str:
        return "rms/std  " + " · ".join(f"{abbreviate(s.name)} {s.rms:.3g}/{s.std:.3g}" for s in chosen)

    full = line(stages)
    if len(full) <= width:
        return full
    result = update.result
    ends = [s for s in stages if s.name in (ENCODER_OUTPUT, GENERATED_TOKENS)]
    projector_out = [s for s in stages if s.name == result.output_stage]
    short = line(ends[:1] + projector_out + ends[1:])
    return short if len(short) <= width else short[: width - 1] + "…"


GREEDY_PIECES = "pieces decoded greedily (beam search fell behind the speech)"


def final_run_words(update: LiveUpdate) -> str:
    """What the final update did after the end of the input, in words."""
    if not update.buffer_seconds:
        return "final run: nothing left, all was committed at the pauses"
    took = f"{1000 * update.latency_s:.0f} ms"
    if not update.decoded:
        return f"final run: none needed, the last {update.buffer_seconds:.1f} s was already transcribed to its end ({took})"
    return f"final run on the last {update.buffer_seconds:.1f} s took {took}"


def status_line(session: LiveSession, update: Optional[LiveUpdate]) -> str:
    heard = f"heard {session.heard_seconds:.1f} s, committed {session.committed_seconds:.1f} s"
    if update is None:
        return f"listening · {heard} · waiting for speech"
    if update.final:
        return f"{final_run_words(update)} · {heard}"
    return (
        f"update {session.model_runs} · window {session.window.seconds:.1f} s · {heard} · "
        f"latency {update.latency_s:.2f} s on {update.buffer_seconds:.1f} s"
        + (f" · {GREEDY_PIECES}" if session.greedy_commits else "")
    )


class Screen:
    """Redraws a block of lines in place with ANSI escapes (cursor up, clear to the end)."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.drawn = 0

    def draw(self, lines: list[str]) -> None:
        width = shutil.get_terminal_size().columns
        # A line wider than the terminal would wrap and break the count of lines to go back over.
        lines = [line if len(line) < width else line[: width - 2] + "…" for line in lines]
        erase = f"\x1b[{self.drawn}F\x1b[J" if self.drawn else ""
        self.out.write(erase + "\n".join(lines) + "\n")
        self.out.flush()
        self.drawn = len(lines)


def screen_lines(session: LiveSession, update: Optional[LiveUpdate], width: int) -> list[str]:
    lines = [status_line(session, update)]
    if update is not None:
        if update.result.notice:  # e.g. the untrained projector: the text is not a transcript
            lines += textwrap.wrap(f"NOTICE: {update.result.notice}", width - 1)
        lines.append(stage_line(update, width - 1))
        wrapped = textwrap.wrap(update.text, width - 1) or ["…"]
        lines += wrapped if update.final else wrapped[-TRANSCRIPT_LINES:]
    return lines


def render_html(update: LiveUpdate, heard_seconds: Optional[float] = None) -> str:
    """A self-contained page: transcript, status, the stage histograms and the projector-vs-LLM
    overlay (plotly.js inline, so it works offline), reloading itself every few seconds."""
    import plotly.io as pio

    from tiny_audio.report import plots

    figures = [plots.stage_histograms(update.result), plots.projector_vs_llm(update.result)]
    divs = [
        pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
        for i, fig in enumerate(figures)
    ]
    kind = "final run on the last words" if update.final else "latest update"
    heard = f" ({heard_seconds:.1f} s heard)" if heard_seconds is not None else ""
    status = (
        f"{kind} · {update.buffer_seconds:.1f} s of audio{heard} · latency {update.latency_s:.2f} s · "
        f"{time.strftime('%H:%M:%S')}"
    )
    notice = f'<p class="notice">{html.escape(update.result.notice)}</p>' if update.result.notice else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{HTML_REFRESH_S}">
<title>Projector Lab · live</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
.transcript {{ font-size: 1.3em; }} .status {{ color: #555; }} .notice {{ color: #8a5a00; }}
</style>
</head>
<body>
<h1>Projector Lab · live</h1>
<p class="transcript">{html.escape(update.text) or "…"}</p>
<p class="status">{html.escape(status)}</p>
{notice}
{"".join(divs)}
</body>
</html>
"""


def write_html(update: LiveUpdate, path: Path, heard_seconds: Optional[float] = None) -> None:
    """Replace the page atomically: a browser reloading it never reads half a file."""
    page = render_html(update, heard_seconds)
    with atomic_path(Path(path)) as partial:
        partial.write_text(page, encoding="utf-8")
