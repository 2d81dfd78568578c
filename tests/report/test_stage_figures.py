"""The stage histograms: one panel per traced stage, drawn from the trace's own bins."""

import numpy as np
import pytest
from report_runs import bar_centres, bars, centres_of, panel_axes, tiny_tokenizer, title_number, traced_result

from tiny_audio.report import plots


@pytest.fixture(scope="module")
def result():
    return traced_result(tiny_tokenizer())


def drawn_order(result):
    """The stages in pipeline order, the LLM's embeddings right after the projector's output."""
    stages = list(result.stages)
    output = next(i for i, s in enumerate(stages) if result.role(s.name) == "projector output")
    return stages[: output + 1] + [result.native.stats] + stages[output + 1 :]


def test_one_panel_per_stage_with_the_llm_embeddings_beside_the_projector_output(result):
    fig = plots.stage_histograms(result)
    panels = drawn_order(result)
    assert [t.name for t in bars(fig)] == [s.name for s in panels]
    assert panels[0].name == "encoder output" and panels[-1].name == "generated tokens"
    # The projector's output and the embeddings share a row, side by side.
    output, native = (panel_axes(fig, t) for t in bars(fig) if t.name in ("post-norm", "LLM token embeddings"))
    assert output[1].domain == native[1].domain and output[0].domain[1] < native[0].domain[0]
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
    assert len(columns) in (4, 5)
    compact = plots.stage_histograms(result, compact=True)  # a phone: two to a row
    assert len({round(panel_axes(compact, t)[0].domain[0], 3) for t in bars(compact)}) == 2


def test_bar_heights_and_positions_are_the_traced_histograms(result):
    fig = plots.stage_histograms(result)
    panels = drawn_order(result)
    for trace, stats in zip(bars(fig), panels):
        counts = stats.histogram.counts
        np.testing.assert_array_equal(np.asarray(trace.y), counts)
        centres = centres_of(stats.histogram.edges)
        np.testing.assert_allclose(bar_centres(trace, len(counts)), centres, rtol=1e-6, atol=1e-9)
        assert list(panel_axes(fig, trace)[0].range) == pytest.approx([stats.min, stats.max], rel=1e-5, abs=1e-9)


def test_shared_range_gives_every_stage_the_same_x_range(result):
    fig = plots.stage_histograms(result, shared_range=True)
    stage_bars = [t for t in bars(fig) if t.name != "LLM token embeddings"]
    (native_bar,) = [t for t in bars(fig) if t.name == "LLM token embeddings"]
    stage_bars.sort(key=lambda t: [s.name for s in result.stages].index(t.name))
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
