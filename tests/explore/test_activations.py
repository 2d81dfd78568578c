"""Exercise 1, Experiment 2 (tiny_audio/explore/activations.py): every statistic checked against
NumPy in float64 and finite differences, and the SwiGLU row against the traced projector."""

import json
import math

import numpy as np
import pytest
import torch
from explore_models import tiny_pipeline
from scipy.special import erf
from tiny_models import speechlike

from tiny_audio.explore.activations import activation_study, gate_input, glu_study, study_activations
from tiny_audio.explore.common import to_jsonable
from tiny_audio.pipeline.projector import AudioProjector

NUMPY_ACTIVATIONS = {
    "ReLU": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    "GELU": (lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))),
             lambda x: 0.5 * (1 + erf(x / np.sqrt(2))) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)),
    "SiLU/Swish": (lambda x: x / (1 + np.exp(-x)),
                   lambda x: (s := 1 / (1 + np.exp(-x))) * (1 + x * (1 - s))),
    "Tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
}
NUMPY_GATES = {
    "GLU": lambda g: 1 / (1 + np.exp(-g)),
    "ReGLU": lambda g: np.maximum(g, 0),
    "GeGLU": NUMPY_ACTIVATIONS["GELU"][0],
    "SwiGLU": NUMPY_ACTIVATIONS["SiLU/Swish"][0],
}


def test_activation_statistics_match_numpy_in_float64():
    rng = np.random.default_rng(0)
    # Within ±4.5: below about -5.3, float32 GELU rounds to exactly 0 where float64 does not.
    gate = np.clip(rng.standard_normal((1, 12, 50)) * 1.7 + 0.3, -4.5, 4.5).astype(np.float32)
    gate[0, 0, :10] = 0.0  # exact zeros at the input stay zeros under ReLU, GELU, SiLU and Tanh
    rows = activation_study(torch.from_numpy(gate), bins=20)
    clip = {r.name: r for r in rows if r.data == "clip"}
    assert list(clip) == list(NUMPY_ACTIVATIONS)
    x = gate.astype(np.float64)
    for name, (f, df) in NUMPY_ACTIVATIONS.items():
        y, row = f(x), clip[name]
        assert row.sparsity == pytest.approx((y == 0).mean(), rel=1e-6), name  # float32 division
        assert row.mean == pytest.approx(y.mean(), rel=1e-5, abs=1e-6), name
        assert row.std == pytest.approx(y.std(), rel=1e-5), name
        assert row.range == pytest.approx(y.max() - y.min(), rel=1e-5), name
        assert row.grad_mean_abs == pytest.approx(np.abs(df(x)).mean(), rel=1e-5), name
        assert sum(row.histogram.counts) == y.size and len(row.histogram.edges) == 21
    assert clip["ReLU"].sparsity > 0.4 and clip["Tanh"].sparsity == pytest.approx(10 / 600)


def test_random_contrast_is_normal_with_the_gate_std():
    """The contrast rows see N(0, σ²) data with σ = the gate's std, whatever the gate's shape of
    distribution: ReLU of it has mean σ/√(2π) and half its values at zero."""
    rng = np.random.default_rng(1)
    gate = rng.exponential(2.0, size=(1, 100, 400)).astype(np.float32)  # skewed, all positive
    sigma = gate.astype(np.float64).std()
    rows = {(r.name, r.data): r for r in activation_study(torch.from_numpy(gate), seed=5)}
    relu = rows["ReLU", "random normal"]
    assert relu.sparsity == pytest.approx(0.5, abs=0.01)
    assert relu.mean == pytest.approx(sigma / math.sqrt(2 * math.pi), rel=0.02)
    assert rows["ReLU", "clip"].sparsity == 0.0  # the real (positive) data has no zeros
    assert rows["Tanh", "random normal"].mean == pytest.approx(0.0, abs=0.01)


def test_activation_study_works_inside_inference_mode():
    with torch.inference_mode():
        gate = torch.randn(1, 4, 6)
        rows = activation_study(gate, bins=5)
    assert all(r.grad_mean_abs > 0 for r in rows)


def test_glu_family_matches_numpy_and_finite_differences():
    torch.manual_seed(0)
    projector = AudioProjector(4, 3, k=2, hidden_dim=5)
    prenorm = torch.randn(1, 3, 8)
    direction = torch.randn(1, 3, 5)
    rows = {r.name: r for r in glu_study(projector, prenorm, bins=10, direction=direction)}
    assert list(rows) == ["GLU", "ReGLU", "GeGLU", "SwiGLU"]

    x = prenorm.double().numpy()
    w_gate = projector.gate_proj.weight.detach().double().numpy()
    w_up = projector.up_proj.weight.detach().double().numpy()
    r = direction.double().numpy()
    for name, act in NUMPY_GATES.items():
        def loss(x_, act=act):
            return float((r * act(x_ @ w_gate.T) * (x_ @ w_up.T)).sum())

        out = act(x @ w_gate.T) * (x @ w_up.T)
        assert rows[name].mean == pytest.approx(out.mean(), rel=1e-4, abs=1e-6), name
        assert rows[name].std == pytest.approx(out.std(), rel=1e-4), name
        assert rows[name].sparsity == pytest.approx((out == 0).mean()), name
        eps, grad = 1e-6, np.zeros_like(x)
        for index in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[index] += eps
            down[index] -= eps
            grad[index] = (loss(up) - loss(down)) / (2 * eps)
        assert rows[name].grad_mean_abs == pytest.approx(np.abs(grad).mean(), rel=1e-4), name


def test_gate_input_and_swiglu_row_come_from_the_real_projector(tokenizer):
    model = tiny_pipeline(tokenizer)
    audio = speechlike(1.42)
    inputs = gate_input(model, audio)
    assert inputs.encoder_frames == 71 and inputs.duration_s == pytest.approx(1.42)
    assert tuple(inputs.prenorm.shape) == (1, 15, 5 * 32) and tuple(inputs.gate.shape) == (1, 15, 64)
    with torch.no_grad():
        torch.testing.assert_close(inputs.gate, model.projector.gate_proj(inputs.prenorm))
        torch.testing.assert_close(inputs.up, model.projector.up_proj(inputs.prenorm))

    report = study_activations(model, audio, bins=30)
    assert report.gate_shape == (1, 15, 64) and len(report.plain) == 8 and len(report.glu) == 4
    # The SwiGLU row is the projector's own "swiglu" stage of a traced run on the same clip.
    traced = model.transcribe((audio, 16_000), max_new_tokens=1).trace.stage("swiglu")
    swiglu = report.glu[-1]
    assert swiglu.name == "SwiGLU"
    assert swiglu.mean == pytest.approx(traced.mean, rel=1e-4, abs=1e-7)
    assert swiglu.std == pytest.approx(traced.std, rel=1e-4)
    assert swiglu.min == pytest.approx(traced.min, rel=1e-4) and swiglu.max == pytest.approx(traced.max, rel=1e-4)
    json.dumps(to_jsonable(report))

    with pytest.raises(ValueError, match="SwiGLU"):
        gate_input(tiny_pipeline(tokenizer, "mlp"), audio)
