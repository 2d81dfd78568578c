"""The projector's output against the LLM's embeddings: densities, frame norms, dimension variance."""

import math

import numpy as np
import pytest
from report_runs import build, speechlike, traced_result

from tiny_audio.report import plots


@pytest.fixture(scope="module")
def result(tokenizer):
    return traced_result(tokenizer)


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
    words = (fig.layout.title.subtitle.text + " ".join(a.text for a in fig.layout.annotations)).replace("<br>", " ")
    assert f"{100 * comparison.outside_fraction:.1f}% of projector values" in words
    # The ratios are the verdict table's, not repeated on the figure in another format.
    assert "RMS ratio" not in words and "total variation" not in words
    below, above = comparison.histogram.below, comparison.histogram.above
    total = sum(comparison.histogram.counts) + below + above
    assert f"{100 * below / total:.1f}% below" in words and f"{100 * above / total:.1f}% above" in words


def test_frame_norms_against_time_with_the_typical_embedding_norm(result):
    fig = plots.frame_norms(result)
    (bar,) = fig.data
    norms = result.trace.frame_norms
    np.testing.assert_allclose(bar.y, norms, rtol=1e-6)
    seconds_per_frame = 0.1  # each audio token is k = 5 encoder frames of 20 ms
    assert bar.dx == pytest.approx(seconds_per_frame, rel=1e-5)
    assert bar.x0 == pytest.approx(seconds_per_frame / 2, rel=1e-5)  # frame i covers [i, i+1)·dx
    (line,) = fig.layout.shapes
    assert line.y0 == line.y1 == pytest.approx(result.native.typical_row_norm, rel=1e-5)
    assert "typical token embedding norm" in fig.layout.annotations[0].text
    assert fig.layout.xaxis.title.text == "time (s)"


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
