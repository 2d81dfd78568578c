"""The course's experiments (tiny_audio/explore.py), each number checked against an independent
computation: the real modules' forward passes, NumPy in float64, finite differences, and
closed-form parameter counts."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.special import erf
from tiny_models import speechlike, tiny_hubert, tiny_llama, tiny_tokenizer, tiny_whisper

from tiny_audio.explore import experiments as explore
from tiny_audio.cli import main
from tiny_audio.pipeline.encoders import encoder_from_model
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.pipeline.projector import AudioProjector, MLPAudioProjector

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def tiny_pipeline(tokenizer, projector_kind="swiglu"):
    """Whisper (32-d) → projector → Llama (48-d); SwiGLU at k=5 or MLP at k=4."""
    decoder = tiny_llama(len(tokenizer))
    torch.manual_seed(3)
    if projector_kind == "swiglu":
        projector = AudioProjector(32, 48, k=5, hidden_dim=64)
    else:
        projector = MLPAudioProjector(32, 48, k=4, hidden_dim=40)
    return AudioLLM(
        encoder_from_model(tiny_whisper()), projector, decoder, tokenizer, name="tiny",
        prompt_style="course" if projector_kind == "swiglu" else "current",
    )


# ----- 1. rates --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["pad", "truncate"])
def test_stacked_frames_agree_with_the_projectors_forward_pass(mode):
    """Frame counts for every (T, k) equal the output length of the real projector module."""
    for k in (1, 2, 3, 5, 8):
        module = AudioProjector if mode == "pad" else MLPAudioProjector
        projector = module(4, 6, k=k, hidden_dim=8)
        for frames in range(k, 40):
            with torch.no_grad():
                out = projector(torch.randn(1, frames, 4))
            assert explore.stacked_frames(frames, k, mode) == out.shape[1], (k, frames)


def test_downsampling_table_matches_the_arithmetic():
    rows = explore.downsampling_table(149, 3.0, 2048)
    assert [r.rate for r in rows] == [2, 3, 5, 8, 10]
    for r in rows:
        expected = math.ceil(149 / r.rate)
        assert r.frames_out == expected and r.frames_in == 149
        assert r.padded_frames == expected * r.rate - 149 and r.dropped_frames == 0
        assert r.ms_per_token == pytest.approx(3000 / expected)
        assert r.compression == pytest.approx(149 / expected)
        assert r.embed_bytes_fp32 == expected * 2048 * 4 and r.embed_bytes_bf16 == expected * 2048 * 2
    assert [r.frames_out for r in rows] == [75, 50, 30, 19, 15]

    truncated = explore.downsampling_table(149, 3.0, 2048, rates=(5, 8), custom=[4, 5, 200], mode="truncate")
    assert [(r.rate, r.custom) for r in truncated] == [(5, False), (8, False), (4, True), (200, True)]
    assert [r.frames_out for r in truncated] == [29, 18, 37, 0]
    assert [r.dropped_frames for r in truncated] == [4, 5, 1, 149]
    assert truncated[-1].ms_per_token is None and truncated[-1].compression is None
    with pytest.raises(ValueError):
        explore.downsampling_table(149, 3.0, 2048, mode="average")


@pytest.mark.parametrize("kind, k, mode", [("swiglu", 5, "pad"), ("mlp", 4, "truncate")])
def test_model_stacking_reports_what_the_projector_did(tokenizer, kind, k, mode):
    model = tiny_pipeline(tokenizer, kind)
    # 1.42 s → Whisper keeps ceil(22720 / 320) = 71 frames.
    result = model.transcribe((speechlike(1.42), 16_000), max_new_tokens=1)
    stacking = explore.model_stacking(model, result)
    assert (stacking.k, stacking.mode, stacking.frames_in, stacking.llm_dim) == (k, mode, 71, 48)
    assert stacking.frames_out == result.trace.stage("stacked").shape[1]
    if mode == "pad":
        assert (stacking.frames_out, stacking.padded_frames, stacking.dropped_frames) == (15, 4, 0)
        assert "zero-padded with 4 frame(s) to 75" in stacking.summary
    else:
        assert (stacking.frames_out, stacking.padded_frames, stacking.dropped_frames) == (17, 0, 3)
        assert "3 trailing frame(s) dropped" in stacking.summary
    assert stacking.ms_per_token == pytest.approx(1420 / stacking.frames_out)
    untraced = model.transcribe((speechlike(1.42), 16_000), max_new_tokens=1, trace=False)
    with pytest.raises(ValueError):
        explore.model_stacking(model, untraced)


# ----- 2. activations -------------------------------------------------------------------------

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
    rows = explore.activation_study(torch.from_numpy(gate), bins=20)
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
    rows = {(r.name, r.data): r for r in explore.activation_study(torch.from_numpy(gate), seed=5)}
    relu = rows["ReLU", "random normal"]
    assert relu.sparsity == pytest.approx(0.5, abs=0.01)
    assert relu.mean == pytest.approx(sigma / math.sqrt(2 * math.pi), rel=0.02)
    assert rows["ReLU", "clip"].sparsity == 0.0  # the real (positive) data has no zeros
    assert rows["Tanh", "random normal"].mean == pytest.approx(0.0, abs=0.01)


def test_activation_study_works_inside_inference_mode():
    with torch.inference_mode():
        gate = torch.randn(1, 4, 6)
        rows = explore.activation_study(gate, bins=5)
    assert all(r.grad_mean_abs > 0 for r in rows)


def test_glu_family_matches_numpy_and_finite_differences():
    torch.manual_seed(0)
    projector = AudioProjector(4, 3, k=2, hidden_dim=5)
    prenorm = torch.randn(1, 3, 8)
    direction = torch.randn(1, 3, 5)
    rows = {r.name: r for r in explore.glu_study(projector, prenorm, bins=10, direction=direction)}
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
    inputs = explore.gate_input(model, audio)
    assert inputs.encoder_frames == 71 and inputs.duration_s == pytest.approx(1.42)
    assert tuple(inputs.prenorm.shape) == (1, 15, 5 * 32) and tuple(inputs.gate.shape) == (1, 15, 64)
    with torch.no_grad():
        torch.testing.assert_close(inputs.gate, model.projector.gate_proj(inputs.prenorm))
        torch.testing.assert_close(inputs.up, model.projector.up_proj(inputs.prenorm))

    report = explore.study_activations(model, audio, bins=30)
    assert report.gate_shape == (1, 15, 64) and len(report.plain) == 8 and len(report.glu) == 4
    # The SwiGLU row is the projector's own "swiglu" stage of a traced run on the same clip.
    traced = model.transcribe((audio, 16_000), max_new_tokens=1).trace.stage("swiglu")
    swiglu = report.glu[-1]
    assert swiglu.name == "SwiGLU"
    assert swiglu.mean == pytest.approx(traced.mean, rel=1e-4, abs=1e-7)
    assert swiglu.std == pytest.approx(traced.std, rel=1e-4)
    assert swiglu.min == pytest.approx(traced.min, rel=1e-4) and swiglu.max == pytest.approx(traced.max, rel=1e-4)
    json.dumps(explore.to_jsonable(report))

    with pytest.raises(ValueError, match="SwiGLU"):
        explore.gate_input(tiny_pipeline(tokenizer, "mlp"), audio)


# ----- 3. configs -----------------------------------------------------------------------------


def swiglu_formula(enc, k, hidden, llm):
    """ln_pre + gate + up + down + ln_post, no biases."""
    return k * enc + 2 * k * enc * hidden + hidden * llm + llm


def test_course_configs_true_counts_and_the_courses_wrong_rows():
    rows = explore.projector_configs()
    names = ["Actual (Tiny Audio)", "Smaller Projector", "More Downsampling", "Less Downsampling"]
    assert [r.name for r in rows] == names
    for r in rows:
        assert r.params == swiglu_formula(r.encoder_dim, r.k, r.hidden_dim, r.llm_dim) == sum(r.breakdown.values())
    assert rows[0].params == 121_643_264 and rows[0].course_params_right
    assert [r.params for r in rows] == [121_643_264, 60_825_856, 184_561_664, 58_724_864]
    course = [121_643_264, 60_829_696, 121_651_456, 121_634_880]
    assert [r.course.params for r in rows] == course
    for r, printed in zip(rows[1:], course[1:]):
        assert r.params != printed and r.course_params_right is False
    # 149 frames, padded: as the course's Exercise 1 shows (149 → 30 at k=5).
    assert [(r.frames_in, r.frames_out) for r in rows] == [(149, 30), (149, 30), (149, 19), (149, 75)]
    assert rows[2].ms_per_frame == pytest.approx(3000 / 19) and rows[2].compression == pytest.approx(149 / 19)


def test_custom_configs_equal_a_built_module():
    wide = {"name": "wide", "encoder_dim": 6, "k": 2, "hidden_dim": 50, "llm_dim": 7}
    rows = explore.projector_configs(extra=[(16, 3, 32, 8), wide], duration_s=1.0, encoder_frames=50)
    assert [r.name for r in rows[4:]] == ["Custom 1", "wide"]
    for r in rows[4:]:
        module = AudioProjector(r.encoder_dim, r.llm_dim, k=r.k, hidden_dim=r.hidden_dim)
        assert r.params == sum(p.numel() for p in module.parameters())
        assert r.breakdown == {name: p.numel() for name, p in module.named_parameters()}
        assert r.course is None and r.course_params_right is None
        assert r.frames_out == module(torch.zeros(1, 50, r.encoder_dim)).shape[1]
    with pytest.raises(ValueError):
        explore.projector_configs(extra=[(16, 0, 32, 8)])


def test_default_frame_count_is_what_a_hubert_encoder_gives():
    model = tiny_hubert()  # HuBERT's convolutional front end, as the course's encoder has
    for seconds in (3.0, 1.5, 0.9):
        samples = torch.randn(1, int(seconds * 16_000))
        with torch.no_grad():
            frames = model(samples).last_hidden_state.shape[1]
        assert explore.waveform_encoder_frames(seconds) == frames
    assert explore.waveform_encoder_frames(3.0) == 149


# ----- 4. decoders ----------------------------------------------------------------------------


def llama_style_params(c, qk_norm: bool):
    """Embedding + layers · (attention with GQA + SwiGLU MLP + 2 norms) + final norm + head."""
    h, hd, inter = c["hidden_size"], c["head_dim"], c["intermediate_size"]
    q_out, kv_out = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    attention = h * q_out + 2 * h * kv_out + q_out * h + (2 * hd if qk_norm else 0)
    layer = attention + 3 * h * inter + 2 * h
    embedding = c["vocab_size"] * h
    head = 0 if c["tie_word_embeddings"] else embedding
    return embedding + c["num_hidden_layers"] * layer + h + head


@pytest.fixture(scope="module")
def decoders():
    return explore.decoder_table(rank=16)


def test_decoder_params_equal_an_independent_formula(decoders):
    specs = {s["name"]: s for s in explore.decoder_specs()}
    assert list(specs) == ["Qwen3-8B", "Qwen3-1.7B", "Llama-3-8B", "Mistral-7B-v0.1", "SmolLM3-3B", "SmolLM2-135M"]
    for row in decoders.rows:
        c = specs[row.name]["config"]
        assert row.params == llama_style_params(c, qk_norm=row.model_type == "qwen3"), row.name
        assert row.embedding_params == c["vocab_size"] * c["hidden_size"]
        assert (row.hidden_size, row.num_hidden_layers, row.num_key_value_heads, row.head_dim) == (
            c["hidden_size"], c["num_hidden_layers"], c["num_key_value_heads"], c["head_dim"])
    params = {r.name: r.params for r in decoders.rows}
    assert params["SmolLM2-135M"] == 134_515_008  # SmolLM2's published size, ~135M
    assert 8.0e9 < params["Llama-3-8B"] < 8.1e9 and 7.2e9 < params["Mistral-7B-v0.1"] < 7.3e9


def test_lora_projector_and_memory_follow_the_stated_assumptions(decoders):
    specs = {s["name"]: s["config"] for s in explore.decoder_specs()}
    for row in decoders.rows:
        c, r = specs[row.name], 16
        h, hd = c["hidden_size"], c["head_dim"]
        q_out, kv_out = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
        per_layer = r * ((h + q_out) + 2 * (h + kv_out) + (q_out + h))
        assert row.lora_params == c["num_hidden_layers"] * per_layer, row.name
        assert row.lora_shapes == {
            "q_proj": [h, q_out], "k_proj": [h, kv_out], "v_proj": [h, kv_out], "o_proj": [q_out, h],
        }
        assert row.projector_params == swiglu_formula(1280, 5, 8192, h)
        assert row.trainable_params == row.projector_params + row.lora_params
        assert row.frozen_weights_gb == pytest.approx(2 * row.params / 1e9)
        assert row.trainable_state_gb == pytest.approx(16 * row.trainable_params / 1e9)
        assert row.training_gb == pytest.approx(row.frozen_weights_gb + row.trainable_state_gb)
    assert any("rank 16" in a for a in decoders.assumptions)
    assert any("16 bytes" in a for a in decoders.assumptions)


def test_the_courses_decoder_numbers_are_reproduced_and_differ(decoders):
    rows = {r.name: r for r in decoders.rows}
    qwen = rows["Qwen3-8B"]
    # The course: 4·2·2048·64·32 LoRA params, (122M + 2M + LoRA) × 12 bytes.
    assert qwen.course["hidden_dim"] == 2048 and qwen.hidden_size == 4096
    assert qwen.course["lora_params"] == 33_554_432
    assert qwen.course["memory_gb"] == pytest.approx((122e6 + 2e6 + 33_554_432) * 12 / 1e9)
    assert qwen.training_gb > 5 * qwen.course["memory_gb"]  # the frozen 8B decoder it leaves out
    assert "memory_gb" not in rows["Qwen3-1.7B"].course  # the course prints memory for its first three only
    ours_at_64 = explore.decoder_table().rows[2]
    assert ours_at_64.name == "Llama-3-8B"
    assert rows["Llama-3-8B"].course["lora_params"] == 4 * 2 * 4096 * 64 * 32 != ours_at_64.lora_params
    assert rows["SmolLM3-3B"].course is None


def test_verified_claims_hold_against_transformers_defaults():
    import transformers

    checked = 0
    for spec in explore.decoder_specs():
        for source, fields in spec["verified"].items():
            if not source.endswith("Config()"):
                continue
            defaults = getattr(transformers, source[:-2])()
            for name in fields:
                value = getattr(defaults, name)
                if name == "head_dim" and value is None:
                    value = defaults.hidden_size // defaults.num_attention_heads
                assert value == spec["config"][name], (spec["name"], source, name)
                checked += 1
    assert checked >= 25


# ----- 5. grid --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["swiglu", "mlp"])
def test_stage_grid_takes_its_panels_from_the_trace(tokenizer, kind):
    model = tiny_pipeline(tokenizer, kind)
    result = model.transcribe((speechlike(1.42), 16_000), max_new_tokens=2)
    panels = explore.stage_grid(result)
    expected = (["stacked", "pre-norm", "swiglu", "down", "post-norm"] if kind == "swiglu"
                else ["stacked", "linear_1", "gelu", "linear_2", "norm_2"])
    assert [p.stage for p in panels] == expected + ["LLM token embeddings"]
    assert [(p.row, p.col) for p in panels] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    for panel in panels[:5]:
        stats = result.trace.stage(panel.stage)
        assert (panel.mean, panel.std, panel.shape) == (stats.mean, stats.std, stats.shape)
        assert f"μ={stats.mean:.3f}, σ={stats.std:.3f}" in panel.title
        assert sum(panel.histogram.counts) == stats.numel
    target = panels[-1]
    embeddings = model.decoder.get_input_embeddings().weight.detach().double()
    assert target.title.startswith("Target LLM") and target.shape == tuple(embeddings.shape)
    assert target.std == pytest.approx(embeddings.std(unbiased=False).item(), rel=1e-5)


# ----- CLI ------------------------------------------------------------------------------------


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "tiny_audio", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_cli_explore_configs_json():
    out = run_cli("explore", "configs", "--json", "--custom", "16,3,32,8")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    true_counts = [121_643_264, 60_825_856, 184_561_664, 58_724_864, swiglu_formula(16, 3, 32, 8)]
    assert [r["params"] for r in rows] == true_counts
    assert [r["course_params_right"] for r in rows] == [True, False, False, False, None]
    assert rows[1]["course"]["params"] == 60_829_696


def test_cli_explore_decoders_json():
    out = run_cli("explore", "decoders", "--json", "--rank", "8")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    specs = {s["name"]: s["config"] for s in explore.decoder_specs()}
    assert [r["name"] for r in report["rows"]] == list(specs)
    for row in report["rows"]:
        assert row["params"] == llama_style_params(specs[row["name"]], qk_norm=row["model_type"] == "qwen3")
        assert row["lora_rank"] == 8
    assert report["assumptions"] and report["course_errors"]


def test_cli_text_tables_and_errors(capsys):
    assert main(["explore", "configs"]) == 0
    text = capsys.readouterr().out
    assert "121,643,264 ✓" in text and "60,829,696 ✗" in text and "60,825,856" in text
    assert main(["explore", "rates", "--json", "--custom", "4"]) == 0
    rows = json.loads(capsys.readouterr().out)["rates"]
    assert [(r["rate"], r["frames_out"]) for r in rows] == [(2, 75), (3, 50), (5, 30), (8, 19), (10, 15), (4, 38)]
    assert main(["explore", "decoders"]) == 0
    assert "k_proj 4096→1024" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["explore", "configs", "--custom", "1,2,3"])
    assert exit_info.value.code == 2


def test_cli_rates_and_activations_on_a_file(tokenizer, tmp_path, monkeypatch, capsys):
    import tiny_audio.loading.load

    model = tiny_pipeline(tokenizer)
    monkeypatch.setattr(tiny_audio.loading.load, "load_model", lambda spec=None, **kwargs: model)
    clip = tmp_path / "clip.wav"
    sf.write(clip, speechlike(1.42), 16_000)

    assert main(["explore", "rates", str(clip), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stacking"]["frames_in"] == 71 and data["stacking"]["padded_frames"] == 4
    assert [r["frames_out"] for r in data["rates"]] == [math.ceil(71 / k) for k in (2, 3, 5, 8, 10)]
    assert main(["explore", "rates", str(clip)]) == 0
    assert "zero-padded with 4 frame(s)" in capsys.readouterr().out

    assert main(["explore", "activations", str(clip), "--json", "--bins", "12"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in report["glu"]] == ["GLU", "ReGLU", "GeGLU", "SwiGLU"]
    assert all(len(r["histogram"]["counts"]) == 12 for r in report["plain"] + report["glu"])
    assert main(["explore", "activations", str(tmp_path / "missing.wav")]) == 1


# ----- the real nano model --------------------------------------------------------------------


@pytest.mark.integration
def test_nano_model_explorations():
    from tiny_audio import load_model

    model = load_model()
    clip = ROOT / "assets" / "examples" / "fox_piper.wav"
    result = model.transcribe(str(clip), max_new_tokens=1)
    stacking = explore.model_stacking(model, result)
    assert (stacking.projector, stacking.k, stacking.mode, stacking.llm_dim) == ("AudioProjector", 5, "pad", 576)
    assert stacking.frames_out == math.ceil(stacking.frames_in / 5)

    report = explore.study_activations(model, str(clip))
    assert report.gate_shape == (1, stacking.frames_out, model.projector.gate_proj.out_features)
    assert all(math.isfinite(r.grad_mean_abs) and r.grad_mean_abs > 0 for r in report.plain + report.glu)
    assert len(explore.stage_grid(result)) == 6

    # The data file's SmolLM2-135M entry is the nano decoder's own configuration.
    spec = next(s for s in explore.decoder_specs() if s["name"] == "SmolLM2-135M")
    config = model.decoder.config
    for name in spec["verified"]["nano decoder"]:
        assert getattr(config, name) == spec["config"][name], name
    assert explore.count_parameters(explore.decoder_on_meta(spec)) == sum(p.numel() for p in model.decoder.parameters())
