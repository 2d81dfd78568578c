"""Plotly figures and tables built from a ``TranscriptionResult``'s trace.

Everything here reads only the small, pre-binned results the trace carries (bin counts, edges,
a few scalars, one short vector per frame or dimension), never raw activations, so one full
update stays a few tens of kilobytes in the browser.

Payload habits (``fig.to_json()`` is what Gradio's ``gr.Plot`` sends):
- data go in NumPy arrays, which Plotly ships as base64 typed arrays (4 bytes per float32
  instead of ~18 characters of decimal text); integer counts shrink to the smallest int type;
- evenly spaced x values are given as ``x0``/``dx`` instead of an array;
- a few lines of template instead of Plotly's default one, which alone adds ~6 KB per figure.

Only the app imports this module; the pipeline never does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, NamedTuple, Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tiny_audio.pipeline.audio import SAMPLE_RATE

if TYPE_CHECKING:  # annotations only: the figures need nothing from the pipeline at run time
    from tiny_audio.pipeline.model import TranscriptionResult
    from tiny_audio.pipeline.trace import Histogram, StageStats

ENCODER_STAGE = "encoder output"
GENERATED_STAGE = "generated tokens"

# Encoder orange, projector blues (light → dark along the pipeline), LLM greens.
ENCODER_COLOR = "#e6550d"
PROJECTOR_COLORS = ("#6baed6", "#08306b")
GENERATED_COLOR = "#41ab5d"
NATIVE_COLOR = "#1b7837"

FONT = dict(family="Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12, color="#222")
_AXIS = dict(showline=True, linecolor="#999", ticks="outside", tickcolor="#999", zeroline=False)

# A few lines of styling instead of Plotly's default template (~6 KB per figure). Axis styles in
# a template apply to every subplot's axes, so a 12-panel grid carries them once.
TEMPLATE = go.layout.Template(
    layout=dict(
        font=FONT,
        paper_bgcolor="white",
        plot_bgcolor="white",
        xaxis=_AXIS,
        yaxis=_AXIS,
        shapedefaults=dict(line=dict(color="#333", width=1, dash="dash")),
    )
)

# The nearest-token strip shows this many frames at first (~55 px each at a typical width, enough
# for a token); longer clips scroll sideways.
STRIP_VISIBLE_FRAMES = 12
STRIP_TOKEN_CHARS = 10
ENVELOPE_MAX_POINTS = 2000


# ----- small helpers ---------------------------------------------------------------------------


def _layout(title: str, height: int, subtitle: Optional[str] = None, top: int = 0, **extra) -> dict:
    """Title (+ subtitle) pinned to the top left; ``top`` reserves extra room under them."""
    title_spec = dict(text=title, x=0.01, xanchor="left", y=1, yanchor="top", yref="container", pad=dict(t=10))
    title_spec["font"] = dict(size=15)
    if subtitle:
        title_spec["subtitle"] = dict(text=subtitle, font=dict(size=12, color="#555"))
    layout = dict(
        template=TEMPLATE,
        height=height,
        title=title_spec,
        margin=dict(l=60, r=20, t=(68 if subtitle else 48) + top, b=45),
        showlegend=False,
    )
    layout.update(extra)
    return layout


def _message_figure(title: str, message: str, height: int = 200) -> go.Figure:
    """A figure that says why there is nothing to draw."""
    fig = go.Figure(layout=_layout(title, height))
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _short(value: float) -> str:
    """Compact number for titles: three significant digits, tiny values in exponent form."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.3g}"


def _sig4(value: float) -> str:
    return f"{value:.4g}"


def shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape)


def _round(value: float) -> float:
    """Layout numbers (ranges, line positions) need no more than 6 significant digits."""
    return float(f"{value:.6g}")


def _stage_color(name: str, index: int, projector_count: int) -> str:
    if name == ENCODER_STAGE:
        return ENCODER_COLOR
    if name == GENERATED_STAGE:
        return GENERATED_COLOR
    return _blend(*PROJECTOR_COLORS, index / max(projector_count - 1, 1))


def _blend(start: str, end: str, t: float) -> str:
    a = [int(start[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(end[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def _bins(histogram: Histogram) -> tuple[float, float, int]:
    """(left edge, bin width, bin count); a degenerate range gets a visible nominal width."""
    lo, hi, n = histogram.edges[0], histogram.edges[-1], len(histogram.counts)
    width = (hi - lo) / n if hi > lo else max(abs(lo), 1.0) * 0.02
    return lo, width, n


def _x_range(histogram: Histogram) -> list[float]:
    lo, width, n = _bins(histogram)
    return [_round(lo), _round(lo + width * n)]


def _is_projector(name: str) -> bool:
    return name not in (ENCODER_STAGE, GENERATED_STAGE)


# ----- 1. stage histograms ---------------------------------------------------------------------


def stage_histograms(result: TranscriptionResult, log_y: bool = False, shared_range: bool = False) -> go.Figure:
    """One panel per traced stage, in pipeline order, plus the LLM's own token embeddings.

    ``shared_range`` draws every stage over the range shared by all of them (the native panel
    keeps its own); ``log_y`` makes the count axes logarithmic.
    """
    title = "Values at each stage of the pipeline"
    if result.trace is None or not result.trace.stages:
        return _message_figure(title, "No trace for this run.")
    stages = list(result.trace.stages)
    panels: list[tuple[StageStats, Histogram, str]] = []
    projector_names = [s.name for s in stages if _is_projector(s.name)]
    for stats in stages:
        histogram = stats.shared_histogram if shared_range and stats.shared_histogram else stats.histogram
        index = projector_names.index(stats.name) if _is_projector(stats.name) else 0
        panels.append((stats, histogram, _stage_color(stats.name, index, len(projector_names))))
    if result.native is not None:
        panels.append((result.native.stats, result.native.stats.histogram, NATIVE_COLOR))

    subtitle = "dashed line = mean" + (" · one shared x range for the pipeline stages" if shared_range else "")
    grid = [
        Panel(s.name, f"<b>{s.name}</b> {shape_text(s.shape)}<br>μ={_short(s.mean)} σ={_short(s.std)}", histogram,
              s.mean, color)
        for s, histogram, color in panels
    ]
    return histogram_grid(title, grid, cols=4 if len(grid) > 9 else 3, log_y=log_y, subtitle=subtitle)


class Panel(NamedTuple):
    name: str  # trace name (hover, tests)
    title: str  # subplot title, may hold <b> and <br>
    histogram: Histogram
    mean: float  # marked with a dashed line
    color: str


def histogram_grid(
    title: str,
    panels: Sequence[Panel],
    cols: int = 3,
    log_y: bool = False,
    subtitle: Optional[str] = None,
) -> go.Figure:
    """Pre-binned histograms as bar panels, the mean of each marked with a dashed line."""
    rows = math.ceil(len(panels) / cols)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=[p.title for p in panels], horizontal_spacing=0.05,
        vertical_spacing=0.5 / rows,
    )
    for i, (name, _, histogram, mean, color) in enumerate(panels):
        row, col = i // cols + 1, i % cols + 1
        lo, width, _ = _bins(histogram)
        fig.add_trace(
            go.Bar(
                x0=lo + width / 2,
                dx=width,
                y=np.asarray(histogram.counts, dtype=np.int64),  # Plotly narrows the int type
                marker=dict(color=color, line=dict(width=0)),
                name=name,
                hovertemplate="%{x:.3g}: %{y} values<extra></extra>",
            ),
            row=row,
            col=col,
        )
        fig.add_vline(x=_round(mean), row=row, col=col)
        fig.update_xaxes(range=_x_range(histogram), row=row, col=col)

    # Subplot titles are two lines above each panel: the top row's need room under the title.
    fig.update_layout(**_layout(title, 100 + 190 * rows, subtitle=subtitle, top=32, bargap=0))
    fig.update_annotations(font=dict(size=11))
    fig.update_xaxes(nticks=5)
    fig.update_yaxes(nticks=4, type="log" if log_y else "linear", exponentformat="SI")
    for row in range(1, rows + 1):
        fig.update_yaxes(title=dict(text="count (log)" if log_y else "count", font=dict(size=11)), row=row, col=1)
    return fig


# ----- 2. projector output vs the LLM's embeddings ----------------------------------------------


def projector_vs_llm(result: TranscriptionResult) -> go.Figure:
    """The projector's output over the LLM's own embedding distribution, both as densities."""
    title = "Does the projector speak the LLM's language?"
    trace = result.trace
    if trace is None or trace.comparison is None or result.native is None:
        return _message_figure(title, "No comparison for this run (the trace needs the LLM's embeddings).")
    comparison, native = trace.comparison, result.native.stats
    hist = comparison.histogram
    lo, width, n = _bins(native.histogram)
    native_density = np.asarray(native.histogram.counts, dtype=np.float64) / (native.numel * width)
    # The projector's density is over *all* its values: what lies outside the LLM's range is
    # missing from the curve and reported beside it, not renormalised away.
    total = sum(hist.counts) + hist.below + hist.above
    projected_density = np.asarray(hist.counts, dtype=np.float64) / (max(total, 1) * width)
    output_name = next((s.name for s in reversed(trace.stages) if _is_projector(s.name)), "projector output")
    output_shape = next((shape_text(s.shape) for s in trace.stages if s.name == output_name), "")

    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x0=lo + width / 2,
            dx=width,
            y=native_density.astype(np.float32),
            marker=dict(color=NATIVE_COLOR, opacity=0.45, line=dict(width=0)),
            name=f"LLM token embeddings {shape_text(native.shape)}",
            hovertemplate="%{x:.3g}: density %{y:.3g}<extra>LLM</extra>",
        )
    )
    # A step outline (one extra point closes the last bin) keeps both shapes visible.
    fig.add_trace(
        go.Scatter(
            x0=lo,
            dx=width,
            y=np.append(projected_density, projected_density[-1]).astype(np.float32),
            mode="lines",
            line=dict(shape="hv", color=PROJECTOR_COLORS[1], width=2),
            fill="tozeroy",
            fillcolor="rgba(33, 113, 181, 0.15)",
            name=f"projector output ({output_name}) {output_shape}",
            hovertemplate="%{x:.3g}: density %{y:.3g}<extra>projector</extra>",
        )
    )
    numbers = "<br>".join(
        [
            f"RMS ratio  {_short(comparison.rms_ratio)}×",
            f"std ratio  {_short(comparison.std_ratio)}×",
            f"mean gap  {_short(comparison.mean_gap)}",
            f"total variation  {comparison.total_variation:.2f}",
        ]
    )
    fig.add_annotation(
        text=numbers, x=0.99, y=0.97, xref="paper", yref="paper", xanchor="right", yanchor="top",
        align="left", showarrow=False, bgcolor="rgba(255,255,255,0.85)", bordercolor="#ccc", borderpad=6,
    )
    # Where the missing mass went, at the edge it fell off.
    hi = lo + width * n
    edge_note = dict(
        xref="x", yref="paper", y=0.5, showarrow=False, font=dict(color=PROJECTOR_COLORS[1]),
        bgcolor="rgba(255,255,255,0.85)",
    )
    if hist.below:
        text = f"◀ {100 * hist.below / total:.1f}% below {_short(lo)}"
        fig.add_annotation(text=text, x=_round(lo), xanchor="left", **edge_note)
    if hist.above:
        text = f"{100 * hist.above / total:.1f}% above {_short(hi)} ▶"
        fig.add_annotation(text=text, x=_round(hi), xanchor="right", **edge_note)
    subtitle = (
        f"{100 * comparison.outside_fraction:.1f}% of projector values fall outside the LLM's range "
        f"[{_short(lo)}, {_short(hi)}] and are not drawn"
    )
    fig.update_layout(
        **_layout(title, 360, subtitle=subtitle, bargap=0, showlegend=True),
        legend=dict(x=0.01, y=0.97, xanchor="left", yanchor="top", bgcolor="rgba(255,255,255,0.85)"),
    )
    fig.update_xaxes(title="value", range=_x_range(native.histogram))
    fig.update_yaxes(title="density", rangemode="tozero")
    return fig


# ----- 3. frame norms ------------------------------------------------------------------------


def frame_norms(result: TranscriptionResult) -> go.Figure:
    """L2 norm of each projected audio frame against time, beside a typical embedding row's."""
    title = "How large is each audio token?"
    trace = result.trace
    if trace is None or not trace.frame_norms:
        return _message_figure(title, "No projected frames in this run.")
    norms = np.asarray(trace.frame_norms, dtype=np.float32)
    seconds_per_frame = result.duration_s / len(norms)
    typical = result.native.typical_row_norm if result.native is not None else None
    median = float(np.median(norms))
    subtitle = f"{len(norms)} frames of {1000 * seconds_per_frame:.0f} ms · median norm {_short(median)}"
    if typical:
        subtitle += f" = {median / typical:.2g}× a typical token embedding's ({_short(typical)})"

    fig = go.Figure(
        go.Bar(
            x0=seconds_per_frame / 2,  # frame i covers [i, i + 1) frame lengths of audio
            dx=seconds_per_frame,
            y=norms,
            # Gaps between frames read well for a few seconds; at hundreds of bars they alias.
            width=seconds_per_frame * (0.9 if len(norms) <= 100 else 1.0),
            marker=dict(color=PROJECTOR_COLORS[0], line=dict(width=0)),
            hovertemplate="%{x:.2f} s: norm %{y:.3g}<extra></extra>",
        )
    )
    if typical:
        fig.add_hline(
            y=_round(typical), line=dict(color=NATIVE_COLOR, width=2, dash="dash"),
            annotation=dict(
                text=f"typical token embedding norm {_short(typical)}", font=dict(color=NATIVE_COLOR),
                bgcolor="rgba(255,255,255,0.85)", yshift=4,
            ),
            annotation_position="top left",
        )
    fig.update_layout(**_layout(title, 300, subtitle=subtitle, bargap=0))
    fig.update_xaxes(title="time (s)", range=[0, _round(result.duration_s)])
    fig.update_yaxes(title="L2 norm", rangemode="tozero")
    return fig


# ----- 4. dimension variance -----------------------------------------------------------------


def top_share(variances: Iterable[float], k: int = 100) -> float:
    """Share of the total variance held by the ``k`` largest variances (NaN when all are 0)."""
    values = np.sort(np.asarray(list(variances), dtype=np.float64))[::-1]
    total = values.sum()
    return float(values[:k].sum() / total) if total > 0 else math.nan


def dimension_variance(result: TranscriptionResult, k: int = 100) -> go.Figure:
    """Per-dimension variance of the projector output, largest first, on a log scale."""
    title = "Which output dimensions carry the signal?"
    trace = result.trace
    if trace is None or not trace.dim_variance:
        return _message_figure(title, "No projector output in this run.")
    variances = np.asarray(trace.dim_variance, dtype=np.float32)
    share = top_share(trace.dim_variance, k)
    dims = len(variances)
    if dims > k:
        subtitle = (
            f"the top {k} of {dims} dimensions hold {100 * share:.0f}% of the total variance "
            f"({100 * k / dims:.0f}% if all were equal)"
        )
    else:
        subtitle = f"all {dims} dimensions shown"
    fig = go.Figure(
        go.Scatter(
            x0=1, dx=1, y=variances, mode="lines", line=dict(color=PROJECTOR_COLORS[1], width=2),
            hovertemplate="dimension #%{x}: variance %{y:.3g}<extra></extra>",
        )
    )
    if dims > k:
        fig.add_vline(
            x=k, line=dict(color="#888", width=1, dash="dot"),
            annotation=dict(text=f"top {k}", font=dict(color="#555")), annotation_position="top right",
        )
    fig.update_layout(**_layout(title, 300, subtitle=subtitle))
    fig.update_xaxes(title="dimension rank (sorted by variance)", range=[0, dims + 1])
    fig.update_yaxes(title="variance across frames", type="log", exponentformat="power", nticks=4)
    return fig


# ----- 5. nearest tokens ---------------------------------------------------------------------


def readable_token(text: str, limit: int = STRIP_TOKEN_CHARS) -> str:
    """A token's text made visible and safe for Plotly's HTML-ish labels."""
    visible = text.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥").replace("\r", "↵")
    # Other control and invisible characters are shown as their escapes (\x00, \u200b).
    visible = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in visible) or "∅"
    if len(visible) > limit:
        visible = visible[: limit - 1] + "…"
    return visible.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _byte_level_alphabet() -> dict[str, int]:
    """Byte-level BPE's character for each byte: printable Latin-1 bytes stand for themselves,
    the other bytes are moved to code points from 256 up, in byte order."""
    printable = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    alphabet, moved = {}, 0
    for byte in range(256):
        if byte in printable:
            alphabet[chr(byte)] = byte
        else:
            alphabet[chr(256 + moved)] = byte
            moved += 1
    return alphabet


_BYTE_LEVEL = _byte_level_alphabet()


def token_text(tokenizer, piece: str) -> str:
    r"""A vocabulary piece as text. The tokenizer's own decoder turns byte-level pieces ('Ġ', 'Ċ',
    'Ã©') back into text; a piece holding only part of a UTF-8 character would come back as '�',
    so its loose bytes are shown as ``\xNN`` instead."""
    to_string = getattr(tokenizer, "convert_tokens_to_string", None)
    try:
        text = to_string([piece]) if to_string else piece
    except Exception:  # a tokenizer that cannot decode a lone piece still gets a label
        text = piece
    if "\ufffd" in text and all(ch in _BYTE_LEVEL for ch in piece):
        text = bytes(_BYTE_LEVEL[ch] for ch in piece).decode("utf-8", errors="backslashreplace")
    return text


def _token_texts(tokenizer, ids: Sequence[int]) -> dict[int, str]:
    """Id → readable label, decoding each distinct id once."""
    unique = sorted(set(ids))
    pieces = tokenizer.convert_ids_to_tokens(unique)
    return {
        token_id: readable_token(token_text(tokenizer, piece) if piece is not None else f"#{token_id}")
        for token_id, piece in zip(unique, pieces)
    }


def waveform_envelope(samples: np.ndarray, rate: int = SAMPLE_RATE, max_points: int = ENVELOPE_MAX_POINTS):
    """(seconds per column, per-column min, per-column max) over columns of ~10 ms, fewer for
    long clips so that min and max together stay within ``max_points``."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    column = max(rate // 100, math.ceil(2 * samples.size / max_points))
    columns = max(1, samples.size // column)
    body = samples[: columns * column].reshape(columns, column) if samples.size >= column else samples.reshape(1, -1)
    return body.shape[1] / rate, body.min(axis=1), body.max(axis=1)


def nearest_tokens(result: TranscriptionResult, tokenizer, waveform: Optional[np.ndarray] = None) -> go.Figure:
    """The time-aligned strip: the clip's waveform (16 kHz samples, optional) above, and under
    each projected frame the vocabulary tokens whose embeddings point the most the same way
    (colour = cosine)."""
    title = "What does each audio token look like to the LLM?"
    trace = result.trace
    if trace is None or not trace.nearest_tokens:
        return _message_figure(title, "No nearest tokens in this run.")
    frames = trace.nearest_tokens
    depth = max(len(row) for row in frames)
    texts = _token_texts(tokenizer, [token_id for row in frames for token_id, _ in row])
    # Row r holds every frame's r-th nearest token.
    cosine = np.full((depth, len(frames)), np.nan, dtype=np.float32)
    labels = [[""] * len(frames) for _ in range(depth)]
    for f, row in enumerate(frames):
        for r, (token_id, sim) in enumerate(row):
            cosine[r, f] = sim
            labels[r][f] = texts[token_id]
    seconds_per_frame = result.duration_s / len(frames)

    has_wave = waveform is not None and np.asarray(waveform).size > 0
    if has_wave:
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.3, 0.7], vertical_spacing=0.04)
    else:
        fig = go.Figure()
    grid = dict(row=2, col=1) if has_wave else {}
    if has_wave:
        step, low, high = waveform_envelope(waveform)
        # The envelope is scaled to the clip's peak and sent as int8: a display needs no more, and
        # clips quieter than -40 dBFS stay visibly quiet instead of being blown up.
        scale = 127 / max(float(np.abs(waveform).max()), 0.01)
        for values, fill in ((high, None), (low, "tonexty")):
            fig.add_trace(
                go.Scatter(
                    x0=step / 2, dx=step, y=np.clip(np.round(values * scale), -127, 127).astype(np.int8),
                    mode="lines", line=dict(color="#777", width=0.5), fill=fill, fillcolor="rgba(120,120,120,0.5)",
                    hoverinfo="skip",
                ),
                row=1, col=1,
            )
        fig.update_yaxes(
            range=[-128, 128], showticklabels=False, showgrid=False, showline=False, ticks="", title="audio",
            row=1, col=1,
        )
        fig.update_xaxes(showline=False, ticks="", row=1, col=1)
    fig.add_trace(
        go.Heatmap(
            z=cosine,
            # Cells are centred on the frames' midpoints, so each spans [start, end) of its frame.
            x0=seconds_per_frame / 2,
            dx=seconds_per_frame,
            y=[f"#{r + 1}" for r in range(depth)],
            text=labels,
            texttemplate="%{text}",
            textfont=dict(size=10),
            zmin=0,
            zmax=1,
            colorscale=[[0, "#ffffff"], [0.5, "#9ecae1"], [1, "#08519c"]],
            colorbar=dict(
                title=dict(text="cosine", side="right"), thickness=10, len=0.7 if has_wave else 1, y=0, yanchor="bottom"
            ),
            xgap=1,
            ygap=1,
            hovertemplate="%{x:.2f} s · %{y}: %{text}<br>cosine %{z:.3f}<extra></extra>",
        ),
        **grid,
    )
    visible = min(len(frames), STRIP_VISIBLE_FRAMES) * seconds_per_frame
    scroll = len(frames) > STRIP_VISIBLE_FRAMES
    subtitle = f"{depth} nearest vocabulary tokens per {1000 * seconds_per_frame:.0f} ms frame, by cosine similarity"
    if scroll:
        subtitle += " · drag sideways to scroll"
    fig.update_layout(**_layout(title, 330 if has_wave else 240, subtitle=subtitle, dragmode="pan"))
    fig.update_xaxes(range=[0, _round(visible)])
    fig.update_xaxes(title="time (s)", **grid)
    fig.update_yaxes(autorange="reversed", showgrid=False, fixedrange=True, **grid)
    fig.update_yaxes(fixedrange=True)
    return fig


# ----- payload and tables --------------------------------------------------------------------


def figure_payload_bytes(figures: Iterable[go.Figure]) -> int:
    """Bytes the browser receives for these figures (Gradio's gr.Plot sends ``fig.to_json()``)."""
    return sum(len(fig.to_json().encode("utf-8")) for fig in figures)


STATS_HEADERS = ["stage", "shape", "mean", "std", "min", "max", "RMS", "% zeros"]


def stats_rows(result: TranscriptionResult) -> tuple[list[str], list[list[str]]]:
    """The per-stage statistics table, stages in pipeline order, then the LLM's embeddings."""
    stages = list(result.stages)
    if result.native is not None:
        stages.append(result.native.stats)
    rows = [
        [
            s.name,
            shape_text(s.shape),
            *(_sig4(v) for v in (s.mean, s.std, s.min, s.max, s.rms)),
            _sig4(100 * s.zero_fraction),
        ]
        for s in stages
    ]
    return list(STATS_HEADERS), rows


def trace_rows(result: TranscriptionResult, k: int) -> tuple[list[str], list[list[str]]]:
    """The course's Exercise 1 table: how the encoder's frames become the LLM's audio tokens.

    Time reduction is measured (encoder frames / stage frames), so it shows the padding that
    makes it differ slightly from the stack rate ``k``."""
    headers = ["stage", "shape", "frames", "feature dim", f"time reduction (k={k})", "ms of audio per frame"]
    stages = [s for s in result.stages if s.name != GENERATED_STAGE]
    if not stages:
        return headers, []
    encoder_frames = stages[0].shape[-2]
    rows = []
    for s in stages:
        frames, dim = s.shape[-2], s.shape[-1]
        rows.append(
            [
                s.name,
                shape_text(s.shape),
                str(frames),
                str(dim),
                f"{encoder_frames / frames:.2f}×",
                f"{1000 * result.duration_s / frames:.1f}",
            ]
        )
    return headers, rows


# ----- explorers ----------------------------------------------------------------------------------

ACTIVATION_COLORS = {"ReLU": "#e6550d", "GELU": "#756bb1", "SiLU/Swish": "#3182bd", "Tanh": "#31a354"}


def activation_histograms(report) -> go.Figure:
    """The activations on the clip's real gate pre-activations, then the GLU family built from
    the projector's own gate/up weights (an ``explore.ActivationReport``)."""
    rows = [r for r in report.plain if r.data == "clip"] + list(report.glu)
    panels = [
        Panel(
            f"{r.name} ({r.data})",
            f"<b>{r.name}</b> {r.data}<br>zeros {r.sparsity:.0%} · σ={_short(r.std)} · |∂|={_short(r.grad_mean_abs)}",
            r.histogram,
            r.mean,
            ACTIVATION_COLORS.get(r.name, PROJECTOR_COLORS[1]),
        )
        for r in rows
    ]
    subtitle = f"gate pre-activations of this clip: {shape_text(report.gate_shape)}, σ={_short(report.gate_std)}"
    if not report.projector_trained:
        subtitle += " · untrained projector: its gate is random too"
    return histogram_grid("Activations on this clip", panels, cols=4, subtitle=subtitle)


def stage_grid(panels) -> go.Figure:
    """The course's 2×3 grid (stacked, pre-norm, SwiGLU, down, final, target LLM), from
    ``explore.stage_grid``; hover it and use the camera icon to save a PNG."""
    colors = [_blend(*PROJECTOR_COLORS, i / 4) for i in range(5)] + [NATIVE_COLOR]
    grid = [Panel(p.stage, p.title, p.histogram, p.mean, colors[min(i, 5)]) for i, p in enumerate(panels)]
    return histogram_grid("Stage by stage", grid, cols=3, subtitle="the course's Exercise 2 grid")
