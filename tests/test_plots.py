"""Figures and tables built from real traces of tiny random models (and, marked, the nano model)."""

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from tiny_models import speechlike, tiny_llama, tiny_tokenizer, tiny_whisper

from tiny_audio.report import plots
from tiny_audio.pipeline.encoders import encoder_from_model
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.pipeline.projector import AudioProjector

PAYLOAD_LIMIT = 60_000  # bytes for one full update: the five figures


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def build(tokenizer, llm_dim=48):
    torch.manual_seed(3)
    return AudioLLM(
        encoder_from_model(tiny_whisper()),
        AudioProjector(32, llm_dim, k=5, hidden_dim=64),
        tiny_llama(len(tokenizer), hidden=llm_dim),
        tokenizer,
        name="tiny",
    )


@pytest.fixture(scope="module")
def result(tokenizer):
    return build(tokenizer).transcribe((speechlike(2.0), 16_000), max_new_tokens=5)


def all_figures(result, tokenizer, waveform):
    return {
        "stage_histograms": plots.stage_histograms(result),
        "projector_vs_llm": plots.projector_vs_llm(result),
        "frame_norms": plots.frame_norms(result),
        "dimension_variance": plots.dimension_variance(result),
        "nearest_tokens": plots.nearest_tokens(result, tokenizer, waveform),
    }


def panel_axes(fig, trace):
    """The layout objects of the x and y axes a trace is drawn on."""
    x, y = trace.xaxis or "x", trace.yaxis or "y"
    return fig.layout["xaxis" + x[1:]], fig.layout["yaxis" + y[1:]]


def bars(fig):
    return [t for t in fig.data if t.type == "bar"]


def bar_centres(trace, n):
    return trace.x0 + trace.dx * np.arange(n)


def centres_of(edges):
    edges = np.asarray(edges)
    return (edges[:-1] + edges[1:]) / 2


def title_number(text, symbol):
    return float(re.search(symbol + r"=([-+0-9.e]+)", text).group(1))


# ----- 1. stage histograms ---------------------------------------------------------------------


def test_one_panel_per_stage_then_the_llm_embeddings(result):
    fig = plots.stage_histograms(result)
    panels = list(result.stages) + [result.native.stats]
    assert [t.name for t in bars(fig)] == [s.name for s in panels]
    assert panels[0].name == "encoder output" and panels[-2].name == "generated tokens"
    assert not [t for t in fig.data if t.type == "histogram"]  # pre-binned counts only
    titles = [a.text for a in fig.layout.annotations][: len(panels)]
    for stats, title in zip(panels, titles):
        assert stats.name in title and plots.shape_text(stats.shape) in title
        assert title_number(title, "μ") == pytest.approx(stats.mean, rel=0.06, abs=1e-9)
        assert title_number(title, "σ") == pytest.approx(stats.std, rel=0.01)
    # One dashed mean line per panel, at the stage's mean, on that panel's axis.
    assert len(fig.layout.shapes) == len(panels)
    for shape, trace, stats in zip(fig.layout.shapes, bars(fig), panels):
        assert shape.xref == (trace.xaxis or "x") and shape.x0 == pytest.approx(stats.mean, rel=1e-5, abs=1e-9)
    assert fig.layout.height and fig.layout.bargap == 0
    columns = {round(panel_axes(fig, t)[0].domain[0], 3) for t in bars(fig)}
    assert len(columns) in (3, 4)


def test_bar_heights_and_positions_are_the_traced_histograms(result):
    fig = plots.stage_histograms(result)
    panels = list(result.stages) + [result.native.stats]
    for trace, stats in zip(bars(fig), panels):
        counts = stats.histogram.counts
        np.testing.assert_array_equal(np.asarray(trace.y), counts)
        centres = centres_of(stats.histogram.edges)
        np.testing.assert_allclose(bar_centres(trace, len(counts)), centres, rtol=1e-6, atol=1e-9)
        assert list(panel_axes(fig, trace)[0].range) == pytest.approx([stats.min, stats.max], rel=1e-5, abs=1e-9)


def test_shared_range_gives_every_stage_the_same_x_range(result):
    fig = plots.stage_histograms(result, shared_range=True)
    stage_bars, native_bar = bars(fig)[:-1], bars(fig)[-1]
    shared = result.stages[0].shared_histogram
    ranges = {tuple(panel_axes(fig, t)[0].range) for t in stage_bars}
    assert len(ranges) == 1
    assert list(ranges.pop()) == pytest.approx([shared.edges[0], shared.edges[-1]], rel=1e-5)
    for trace, stats in zip(stage_bars, result.stages):
        np.testing.assert_array_equal(np.asarray(trace.y), stats.shared_histogram.counts)
        assert trace.x0 == stage_bars[0].x0 and trace.dx == stage_bars[0].dx
    # The LLM's embeddings keep their own range.
    native = result.native.stats
    assert list(panel_axes(fig, native_bar)[0].range) == pytest.approx([native.min, native.max], rel=1e-5)
    # Per-stage ranges differ from one another.
    own = plots.stage_histograms(result)
    assert len({tuple(panel_axes(own, t)[0].range) for t in bars(own)}) > 1


def test_log_y_sets_log_axes(result):
    log = plots.stage_histograms(result, log_y=True)
    linear = plots.stage_histograms(result)
    assert all(panel_axes(log, t)[1].type == "log" for t in bars(log))
    assert all(panel_axes(linear, t)[1].type == "linear" for t in bars(linear))


def test_projector_stages_share_a_hue_apart_from_encoder_and_llm(result):
    fig = plots.stage_histograms(result)
    colors = {t.name: t.marker.color for t in bars(fig)}
    projector = [colors[s.name] for s in result.stages if s.name not in ("encoder output", "generated tokens")]

    def hue(color):
        r, g, b = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return max((r, "r"), (g, "g"), (b, "b"))[1]

    assert {hue(c) for c in projector} == {"b"} and len(set(projector)) == len(projector)
    assert hue(colors["encoder output"]) != "b" and hue(colors["LLM token embeddings"]) == "g"


# ----- 2. projector vs LLM ---------------------------------------------------------------------


def test_overlay_densities_integrate_to_one_minus_the_outside_mass(result):
    comparison = result.trace.comparison
    assert comparison.outside_fraction > 0.05  # this tiny model's output overflows the LLM's range
    fig = plots.projector_vs_llm(result)
    native, projected = fig.data
    n = len(result.native.stats.histogram.counts)
    assert native.type == "bar" and len(native.y) == n
    assert np.sum(native.y) * native.dx == pytest.approx(1.0, abs=1e-4)
    # The step line repeats its last value to close the last bin.
    assert len(projected.y) == n + 1 and projected.line.shape == "hv"
    assert np.sum(projected.y[:n]) * projected.dx == pytest.approx(1 - comparison.outside_fraction, abs=1e-4)
    assert projected.x0 == pytest.approx(result.native.stats.min, rel=1e-5)
    words = fig.layout.title.subtitle.text + " ".join(a.text for a in fig.layout.annotations)
    assert f"{100 * comparison.outside_fraction:.1f}% of projector values" in words
    for name, value in (("RMS ratio", comparison.rms_ratio), ("std ratio", comparison.std_ratio)):
        assert float(re.search(name + r"\s+([-0-9.e]+)", words).group(1)) == pytest.approx(value, rel=0.01)
    assert re.search(r"mean gap\s+[-0-9.e]+", words)
    assert f"total variation  {comparison.total_variation:.2f}" in words
    below, above = comparison.histogram.below, comparison.histogram.above
    total = sum(comparison.histogram.counts) + below + above
    assert f"{100 * below / total:.1f}% below" in words and f"{100 * above / total:.1f}% above" in words


# ----- 3. frame norms --------------------------------------------------------------------------


def test_frame_norms_against_time_with_the_typical_embedding_norm(result):
    fig = plots.frame_norms(result)
    (bar,) = fig.data
    norms = result.trace.frame_norms
    np.testing.assert_allclose(bar.y, norms, rtol=1e-6)
    seconds_per_frame = result.duration_s / len(norms)
    assert bar.dx == pytest.approx(seconds_per_frame, rel=1e-5)
    assert bar.x0 == pytest.approx(seconds_per_frame / 2, rel=1e-5)  # frame i covers [i, i+1)·dx
    (line,) = fig.layout.shapes
    assert line.y0 == line.y1 == pytest.approx(result.native.typical_row_norm, rel=1e-5)
    assert "typical token embedding norm" in fig.layout.annotations[0].text
    assert fig.layout.xaxis.title.text == "time (s)"


# ----- 4. dimension variance -------------------------------------------------------------------


def test_top_share_matches_numpy():
    rng = np.random.default_rng(0)
    variances = rng.gamma(0.5, size=576)
    expected = np.sort(variances)[-100:].sum() / variances.sum()
    assert plots.top_share(variances.tolist()) == pytest.approx(expected, rel=1e-12)
    assert plots.top_share(variances, k=3) == pytest.approx(np.sort(variances)[-3:].sum() / variances.sum())
    assert plots.top_share([1.0, 1.0], k=100) == 1.0
    assert math.isnan(plots.top_share([0.0, 0.0]))


def test_dimension_variance_is_sorted_on_a_log_axis_with_the_top_share(tokenizer):
    wide = build(tokenizer, llm_dim=160).transcribe((speechlike(2.0), 16_000), max_new_tokens=2)
    fig = plots.dimension_variance(wide)
    variances = wide.trace.dim_variance
    assert len(variances) == 160
    np.testing.assert_allclose(fig.data[0].y, variances, rtol=1e-6)
    assert fig.layout.yaxis.type == "log"
    share = plots.top_share(variances, 100)
    assert f"top 100 of 160 dimensions hold {100 * share:.0f}%" in fig.layout.title.subtitle.text


# ----- 5. nearest tokens -----------------------------------------------------------------------


def test_nearest_token_strip_has_a_column_per_frame_with_the_decoded_tokens(result, tokenizer):
    waveform = speechlike(2.0)
    fig = plots.nearest_tokens(result, tokenizer, waveform)
    (heatmap,) = [t for t in fig.data if t.type == "heatmap"]
    nearest = result.trace.nearest_tokens
    frames = result.stages[1].shape[1]
    assert len(nearest) == frames
    z = np.asarray(heatmap.z)
    assert z.shape == (3, frames)
    seconds_per_frame = result.duration_s / frames
    assert heatmap.dx == pytest.approx(seconds_per_frame, rel=1e-5)
    assert heatmap.x0 == pytest.approx(seconds_per_frame / 2, rel=1e-5)  # cells span [start, end)
    for f, row in enumerate(nearest):
        for r, (token_id, cosine) in enumerate(row):
            piece = tokenizer.convert_ids_to_tokens(token_id)
            assert heatmap.text[r][f] == plots.readable_token(plots.token_text(tokenizer, piece))
            assert z[r, f] == pytest.approx(cosine, abs=1e-6)
    labels = "".join(label for row in heatmap.text for label in row)
    assert labels and not set(labels) & {"Ġ", "Ċ", "<", ">", "\ufffd"}
    assert "%{text}" in heatmap.hovertemplate and "%{z" in heatmap.hovertemplate
    # Waveform envelope on top, on the same time axis.
    envelope = [t for t in fig.data if t.type == "scatter"]
    assert len(envelope) == 2 and fig.layout.xaxis.matches == "x2"
    assert sum(len(t.y) for t in envelope) <= plots.ENVELOPE_MAX_POINTS
    assert envelope[0].dx == pytest.approx(0.01, rel=1e-6)  # 10 ms columns for a short clip


def test_tokens_are_made_readable(tokenizer):
    def shown(text):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        pieces = tokenizer.convert_ids_to_tokens(ids)
        return [plots.readable_token(tokenizer.convert_tokens_to_string([p])) for p in pieces]

    assert any("Ġ" in p for p in tokenizer.convert_ids_to_tokens(tokenizer(" a b")["input_ids"]))
    labels = shown(" a b\n")
    assert "Ġ" not in "".join(labels) and "Ċ" not in "".join(labels)
    assert "␣" in "".join(labels) and "⏎" in "".join(labels)
    assert plots.readable_token("<|im_end|>", limit=20) == "&lt;|im_end|&gt;"
    assert plots.readable_token("abcdefghijkl", limit=8) == "abcdefg…"
    assert plots.readable_token("\x00\u200b") == "\\x00\\u200b"


def test_token_text_decodes_byte_level_pieces_and_shows_loose_bytes(tokenizer):
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    loose = 0
    for piece in pieces:
        decoded = tokenizer.convert_tokens_to_string([piece])
        shown = plots.token_text(tokenizer, piece)
        if "\ufffd" in decoded:
            loose += 1
            assert "\ufffd" not in shown and re.search(r"\\x[0-9a-f]{2}", shown)
        else:
            assert shown == decoded
    assert loose  # the byte alphabet has bytes that are not whole characters
    assert plots.token_text(tokenizer, "Ã©") == "é" and plots.token_text(tokenizer, "ĠÃ") == " \\xc3"


def test_long_clip_envelope_stays_small(tokenizer):
    step, low, high = plots.waveform_envelope(speechlike(30.0))
    assert len(low) + len(high) <= plots.ENVELOPE_MAX_POINTS and len(low) >= 900
    assert step * len(low) == pytest.approx(30.0, rel=0.01)
    samples = speechlike(30.0)
    column = int(round(step * 16_000))
    assert high[7] == samples[7 * column : 8 * column].max() and low[7] == samples[7 * column : 8 * column].min()


# ----- payload ---------------------------------------------------------------------------------


def test_payload_is_the_json_the_browser_receives(result, tokenizer):
    figures = list(all_figures(result, tokenizer, speechlike(2.0)).values())
    assert plots.figure_payload_bytes(figures) == sum(len(f.to_json().encode("utf-8")) for f in figures)


def test_a_full_update_for_a_30s_clip_at_nano_shapes_fits_the_budget(tokenizer):
    # Same shapes as the nano model where they set the payload: 300 projected frames of 576 dims.
    samples = speechlike(30.0)
    long = build(tokenizer, llm_dim=576).transcribe((samples, 16_000), max_new_tokens=5)
    assert long.stages[1].shape[1] == 300 and len(long.trace.dim_variance) == 576
    figures = all_figures(long, tokenizer, samples)
    sizes = {name: plots.figure_payload_bytes([fig]) for name, fig in figures.items()}
    assert sum(sizes.values()) <= PAYLOAD_LIMIT, sizes
    for fig in figures.values():
        assert fig.layout.height
        assert "colorway" not in fig.to_json()  # no default template


def test_figures_without_a_trace_say_so(tokenizer):
    plain = build(tokenizer).transcribe((speechlike(1.0), 16_000), max_new_tokens=2, trace=False)
    for fig in all_figures(plain, tokenizer, None).values():
        assert not fig.data and fig.layout.annotations and fig.layout.height
    assert plots.stats_rows(plain)[1] == [] and plots.trace_rows(plain, 5)[1] == []


def test_the_pipeline_does_not_import_plotly():
    code = "import sys, tiny_audio, tiny_audio.pipeline.model, tiny_audio.pipeline.trace; assert 'plotly' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ----- tables ----------------------------------------------------------------------------------


def significant_digits(text):
    mantissa = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa)


def test_stats_rows(result):
    headers, rows = plots.stats_rows(result)
    assert headers == ["stage", "shape", "mean", "std", "min", "max", "RMS", "% zeros"]
    panels = list(result.stages) + [result.native.stats]
    assert [row[0] for row in rows] == [s.name for s in panels]
    assert rows[-1][0] == "LLM token embeddings"
    for row, stats in zip(rows, panels):
        assert row[1] == "×".join(map(str, stats.shape))
        values = (stats.mean, stats.std, stats.min, stats.max, stats.rms, 100 * stats.zero_fraction)
        for cell, value in zip(row[2:], values):
            assert isinstance(cell, str) and significant_digits(cell) <= 4
            assert float(cell) == pytest.approx(value, rel=1e-3, abs=1e-12)


def test_trace_rows_follow_exercise_one(result):
    headers, rows = plots.trace_rows(result, k=5)
    assert headers[:4] == ["stage", "shape", "frames", "feature dim"] and "k=5" in headers[4]
    names = [s.name for s in result.stages if s.name != "generated tokens"]
    assert [row[0] for row in rows] == names and names[0] == "encoder output"
    by_name = dict(zip(names, rows))
    # 2 s of Whisper frames at 50/s → 100 frames of 20 ms; stacking 5 → 20 frames of 100 ms.
    assert by_name["encoder output"][2:] == ["100", "32", "1.00×", "20.0"]
    assert by_name["stacked"][2:] == ["20", "160", "5.00×", "100.0"]
    assert by_name["post-norm"][1:4] == ["1×20×48", "20", "48"]


# ----- the real nano model ---------------------------------------------------------------------


@pytest.mark.integration
def test_nano_model_full_update_fits_the_budget(tmp_path):
    from tiny_audio import load_model
    from tiny_audio.pipeline.audio import load_audio

    model = load_model()
    wav = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(wav), "The quick brown fox jumps over the lazy dog near the river bank."], check=True
    )
    speech = load_audio(str(wav))
    assert 2.0 < speech.size / 16_000 < 6.0
    # A 30 s clip, the longest the encoder takes: the sentence repeated with short pauses.
    pause = np.zeros(8_000, dtype=np.float32)
    repeated = np.concatenate([np.concatenate([speech, pause])] * 10)
    long = np.pad(repeated, (0, max(0, 480_000 - repeated.size)))[:480_000]
    sizes = {}
    for name, samples in (("3s", speech), ("30s", long)):
        result = model.transcribe(samples, max_new_tokens=16)
        figures = all_figures(result, model.tokenizer, samples)
        sizes[name] = {key: plots.figure_payload_bytes([fig]) for key, fig in figures.items()}
        assert sum(sizes[name].values()) <= PAYLOAD_LIMIT, sizes
        (heatmap,) = [t for t in figures["nearest_tokens"].data if t.type == "heatmap"]
        labels = [label for row in heatmap.text for label in row]
        assert not any("Ġ" in label or "Ċ" in label for label in labels)
    assert result.stages[1].shape[1] == 300
    print(json.dumps(sizes))
