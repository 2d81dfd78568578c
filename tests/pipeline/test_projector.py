import pytest
import torch
import torch.nn.functional as F

from tiny_audio.pipeline.projector import (
    AudioProjector,
    ConvMLPAudioProjector,
    MLPAudioProjector,
    RMSNorm,
    projector_from_state_dict,
    stack_frames_padded,
    stack_frames_truncated,
)
from tiny_audio.pipeline.stages import CONV_MLP_STAGES, MLP_PLAIN_STAGES, MLP_STAGES, MLP_STAGES_WITHOUT_NORM_2


def test_course_projector_has_exactly_the_published_parameter_count():
    with torch.device("meta"):
        projector = AudioProjector(encoder_dim=1280, llm_dim=2048, k=5, hidden_dim=8192)
    assert sum(p.numel() for p in projector.parameters()) == 121_643_264


def test_course_projector_state_dict_names_and_shapes():
    with torch.device("meta"):
        projector = AudioProjector(encoder_dim=1280, llm_dim=2048, k=5, hidden_dim=8192)
    shapes = {key: tuple(value.shape) for key, value in projector.state_dict().items()}
    assert shapes == {
        "ln_pre.weight": (6400,),
        "gate_proj.weight": (8192, 6400),
        "up_proj.weight": (8192, 6400),
        "down_proj.weight": (2048, 8192),
        "ln_post.weight": (2048,),
    }
    assert projector.k == 5


def test_padding_stack_zero_pads_the_end_and_is_frame_major():
    x = torch.arange(2 * 13 * 3, dtype=torch.float32).view(2, 13, 3)
    stacked = stack_frames_padded(x, 5)
    assert stacked.shape == (2, 3, 15)
    assert torch.equal(stacked[:, 0], torch.cat([x[:, i] for i in range(5)], dim=-1))
    assert torch.equal(stacked[:, 2, :9], x[:, 10:13].reshape(2, 9))
    assert torch.all(stacked[:, 2, 9:] == 0)


def test_truncating_stack_drops_the_incomplete_group():
    x = torch.randn(1, 13, 3)
    stacked = stack_frames_truncated(x, 5)
    assert stacked.shape == (1, (13 - 5) // 5 + 1, 15)
    assert torch.equal(stacked.view(1, -1, 3), x[:, :10])
    with pytest.raises(ValueError, match="too short"):
        stack_frames_truncated(torch.randn(1, 4, 3), 5)


def test_output_frame_counts_differ_between_padding_and_truncation():
    swiglu = AudioProjector(8, 16, k=5, hidden_dim=32)
    mlp = MLPAudioProjector(8, 16, k=5, hidden_dim=32)
    assert swiglu(torch.randn(1, 149, 8)).shape == (1, 30, 16)
    assert mlp(torch.randn(1, 149, 8)).shape == (1, 29, 16)
    assert swiglu.output_frames(149) == 30 and mlp.output_frames(149) == 29


def test_rmsnorm_matches_float64_reference_and_keeps_dtype():
    norm = RMSNorm(64)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(3, 7, 64) * 5
    ref = x.double() / torch.sqrt(x.double().pow(2).mean(-1, keepdim=True) + 1e-6) * norm.weight.double()
    torch.testing.assert_close(norm(x).double(), ref, rtol=1e-5, atol=1e-6)
    assert norm.to(torch.bfloat16)(x.bfloat16()).dtype == torch.bfloat16


def test_swiglu_forward_matches_the_formula():
    torch.manual_seed(0)
    p = AudioProjector(6, 10, k=3, hidden_dim=12)
    x = torch.randn(2, 9, 6)
    s = p.ln_pre(x.reshape(2, 3, 18))
    expected = p.ln_post(p.down_proj(F.silu(p.gate_proj(s)) * p.up_proj(s)))
    torch.testing.assert_close(p(x), expected)


@pytest.mark.parametrize("cls", [AudioProjector, MLPAudioProjector])
def test_traced_forward_returns_identical_output_and_all_stages(cls):
    torch.manual_seed(0)
    projector = cls(16, 24, k=4, hidden_dim=32)
    x = torch.randn(1, 37, 16)
    recorded = {}
    traced = projector(x, record=lambda name, t: recorded.__setitem__(name, t))
    assert torch.equal(traced, projector(x))
    assert tuple(recorded) == cls.stages
    assert torch.equal(recorded[cls.stages[-1]], traced)


def test_linear_init_is_normal_002_without_bias():
    torch.manual_seed(0)
    p = AudioProjector(64, 64, k=5, hidden_dim=512)
    assert p.gate_proj.bias is None and p.down_proj.bias is None
    assert abs(p.gate_proj.weight.std().item() - 0.02) < 0.001
    assert torch.equal(p.ln_pre.weight, torch.ones(320))


def test_state_dict_round_trip_rebuilds_the_same_architecture():
    for cls in (AudioProjector, MLPAudioProjector):
        torch.manual_seed(1)
        original = cls(16, 24, k=4, hidden_dim=32)
        rebuilt = projector_from_state_dict(original.state_dict(), k=4)
        assert type(rebuilt) is cls
        x = torch.randn(1, 20, 16)
        assert torch.equal(rebuilt(x), original(x))


def test_bad_state_dicts_fail_naming_the_key():
    state = AudioProjector(16, 24, k=4, hidden_dim=32).state_dict()
    missing = dict(state)
    del missing["up_proj.weight"]
    with pytest.raises(ValueError, match="'up_proj.weight'"):
        projector_from_state_dict(missing, k=4)
    extra = dict(state, **{"gate_proj.bias": torch.zeros(32)})
    with pytest.raises(ValueError, match="'gate_proj.bias'"):
        projector_from_state_dict(extra, k=4)
    wrong = dict(state, **{"ln_post.weight": torch.ones(23)})
    with pytest.raises(ValueError, match="'ln_post.weight'"):
        projector_from_state_dict(wrong, k=4)
    with pytest.raises(ValueError, match="neither"):
        projector_from_state_dict({"foo.weight": torch.ones(1)}, k=4)


def _mlp_state(enc, llm, k, hidden, *, bias=False, norm=True, norm_2=True):
    torch.manual_seed(2)
    state = {"linear_1.weight": torch.randn(hidden, k * enc) * 0.2, "linear_2.weight": torch.randn(llm, hidden) * 0.2}
    if bias:
        state.update({"linear_1.bias": torch.randn(hidden), "linear_2.bias": torch.randn(llm)})
    if norm:
        state["norm.weight"] = 1 + 0.1 * torch.randn(hidden)
    if norm_2:
        state["norm_2.weight"] = 1 + 0.1 * torch.randn(llm)
    return state


def _rms(x, weight):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * weight


@pytest.mark.parametrize("variant, stages", [
    ({}, MLP_STAGES),  # today's
    ({"norm_2": False}, MLP_STAGES_WITHOUT_NORM_2),  # before 2026-05-06
    ({"bias": True, "norm": False, "norm_2": False}, MLP_PLAIN_STAGES),  # January 2026
])
def test_each_mlp_form_is_built_from_its_keys_and_computes_its_formula(variant, stages):
    state = _mlp_state(6, 10, 3, 12, **variant)
    projector = projector_from_state_dict(state, k=3)
    assert type(projector) is MLPAudioProjector and projector.stages == stages
    x = torch.randn(1, 14, 6)
    h = F.linear(x[:, :12].reshape(1, 4, 18), state["linear_1.weight"], state.get("linear_1.bias"))
    h = _rms(h, state["norm.weight"]) if "norm.weight" in state else h
    h = F.linear(F.gelu(h), state["linear_2.weight"], state.get("linear_2.bias"))
    expected = _rms(h, state["norm_2.weight"]) if "norm_2.weight" in state else h
    recorded = {}
    out = projector(x, record=lambda name, t: recorded.__setitem__(name, t))
    torch.testing.assert_close(out, expected)
    assert tuple(recorded) == stages and torch.equal(recorded[stages[-1]], out)


def test_the_convolutional_projector_halves_the_frames_and_computes_its_formula():
    torch.manual_seed(0)
    state = {"downsample.weight": torch.randn(6, 6, 3) * 0.3, "linear_1.weight": torch.randn(10, 6) * 0.3,
             "linear_2.weight": torch.randn(10, 10) * 0.3}
    projector = projector_from_state_dict(state, k=2)
    assert type(projector) is ConvMLPAudioProjector and projector.stages == CONV_MLP_STAGES
    for frames in (14, 15):
        x = torch.randn(1, frames, 6)
        down = F.conv1d(x.transpose(1, 2), state["downsample.weight"], stride=2, padding=1).transpose(1, 2)
        expected = F.linear(F.gelu(F.linear(down, state["linear_1.weight"])), state["linear_2.weight"])
        torch.testing.assert_close(projector(x), expected)
        assert projector.output_frames(frames) == expected.shape[1] == -(-frames // 2)
    assert projector.encoder_dim == 6 and projector.output_dim == 10


def test_an_mlp_with_norm_2_but_no_norm_fails_naming_the_missing_key():
    state = _mlp_state(6, 10, 3, 12, norm=False)
    with pytest.raises(ValueError, match="'norm.weight'"):
        projector_from_state_dict(state, k=3)
