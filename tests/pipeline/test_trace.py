import numpy as np
import pytest
import torch

from tiny_audio.pipeline.trace import Tracer, summarize_embeddings, summarize_tensor


def reference_stats(x: np.ndarray) -> dict:
    x = x.astype(np.float64).ravel()
    return {
        "mean": x.mean(),
        "std": x.std(),
        "min": x.min(),
        "max": x.max(),
        "rms": np.sqrt((x**2).mean()),
        "zero_fraction": (x == 0).mean(),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_statistics_match_a_float64_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    data = (rng.standard_normal((3, 50, 70)) * rng.uniform(0.1, 10) + rng.uniform(-2, 2)).astype(np.float32)
    data[0, :5] = 0.0
    stats = summarize_tensor("x", torch.from_numpy(data))
    for key, value in reference_stats(data).items():
        assert getattr(stats, key) == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert stats.shape == (3, 50, 70) and stats.numel == data.size


def test_histogram_counts_sum_to_element_count_and_match_numpy():
    rng = np.random.default_rng(0)
    data = rng.standard_normal(12345).astype(np.float32)
    stats = summarize_tensor("x", torch.from_numpy(data), bins=40)
    assert sum(stats.histogram.counts) == data.size
    assert len(stats.histogram.edges) == 41
    expected, edges = np.histogram(data, bins=40, range=(data.min(), data.max()))
    np.testing.assert_allclose(stats.histogram.edges, edges, rtol=1e-5, atol=1e-6)
    # Values sitting exactly on an edge may fall either side in float32; allow that, no more.
    assert np.abs(np.array(stats.histogram.counts) - expected).sum() <= 2


def test_constant_and_bf16_tensors_are_summarised():
    zeros = summarize_tensor("zeros", torch.zeros(4, 8))
    assert zeros.zero_fraction == 1.0 and zeros.std == 0.0
    assert sum(zeros.histogram.counts) == 32
    x = torch.randn(100, 30).bfloat16()
    stats = summarize_tensor("bf16", x)
    assert stats.mean == pytest.approx(x.float().mean().item(), abs=1e-6)


def test_shared_histograms_use_one_range_for_all_stages():
    tracer = Tracer(bins=20)
    tracer.record("small", torch.randn(500) * 0.1)
    tracer.record("big", torch.randn(300) * 10)
    trace = tracer.finalize()
    a, b = (s.shared_histogram for s in trace.stages)
    assert a.edges == b.edges
    assert a.edges[0] == pytest.approx(min(s.min for s in trace.stages))
    assert a.edges[-1] == pytest.approx(max(s.max for s in trace.stages))
    assert sum(a.counts) == 500 and sum(b.counts) == 300


def test_comparison_with_native_embeddings():
    torch.manual_seed(0)
    table = torch.randn(1001, 16) * 0.05  # odd: torch and NumPy agree on the median
    native = summarize_embeddings(table, bins=30)
    assert native.stats.numel == 1001 * 16
    expected_norm = np.median(table.norm(dim=-1).numpy())
    assert native.typical_row_norm == pytest.approx(expected_norm, rel=1e-5)

    def compare(output):
        tracer = Tracer(bins=30)
        tracer.record("out", output)
        return tracer.finalize(native, output_stage="out")

    same = compare(table[:200].unsqueeze(0))
    loud = compare(torch.randn(1, 200, 16))
    assert same.comparison.rms_ratio == pytest.approx(1.0, rel=0.05)
    assert loud.comparison.rms_ratio > 10
    assert same.comparison.total_variation < 0.2 < loud.comparison.total_variation
    assert loud.comparison.outside_fraction > 0.5
    hist = loud.comparison.histogram
    assert sum(hist.counts) + hist.below + hist.above == 200 * 16
    # Frames that are rows of the table find themselves as their nearest token.
    assert [frame[0][0] for frame in same.nearest_tokens] == list(range(200))
    assert same.nearest_tokens[0][0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(same.frame_norms) == 200
    variance = table[:200].double().var(dim=0, unbiased=False).sort(descending=True).values
    np.testing.assert_allclose(same.dim_variance, variance.numpy(), rtol=1e-4)


def test_finalize_moves_results_to_the_host_once(monkeypatch):
    calls = []
    original = torch.Tensor.cpu

    def counting_cpu(self, *args, **kwargs):
        calls.append(self.shape)
        return original(self, *args, **kwargs)

    native = summarize_embeddings(torch.randn(50, 8))
    tracer = Tracer()
    for name in ("a", "b", "c"):
        tracer.record(name, torch.randn(1, 10, 8))
    monkeypatch.setattr(torch.Tensor, "cpu", counting_cpu)
    tracer.finalize(native, output_stage="c")
    assert len(calls) == 1


@pytest.mark.parametrize("lanes", [1, 7, 64])
def test_spread_counting_equals_bincount(lanes):
    from tiny_audio.pipeline.trace import _count

    index = torch.randint(0, 100, (50_001,))
    assert torch.equal(_count(index, 100, lanes=lanes), torch.bincount(index, minlength=100))
