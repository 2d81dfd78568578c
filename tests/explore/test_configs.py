"""Exercise 3 (tiny_audio/explore/configs.py): parameter counts against a closed form and built
modules, frame counts against a HuBERT front end."""

import pytest
import torch
from explore_models import swiglu_formula
from tiny_models import tiny_hubert

from tiny_audio.explore.configs import projector_configs, waveform_encoder_frames
from tiny_audio.pipeline.projector import AudioProjector


def test_course_configs_true_counts_and_the_courses_wrong_rows():
    rows = projector_configs()
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
    # Each output frame is k = 8 encoder frames of 20 ms, the last one partly zero padding.
    assert rows[2].ms_per_frame == 160 and rows[2].compression == pytest.approx(149 / 19)


def test_custom_configs_equal_a_built_module():
    wide = {"name": "wide", "encoder_dim": 6, "k": 2, "hidden_dim": 50, "llm_dim": 7}
    rows = projector_configs(extra=[(16, 3, 32, 8), wide], duration_s=1.0, encoder_frames=50)
    assert [r.name for r in rows[4:]] == ["Custom 1", "wide"]
    for r in rows[4:]:
        module = AudioProjector(r.encoder_dim, r.llm_dim, k=r.k, hidden_dim=r.hidden_dim)
        assert r.params == sum(p.numel() for p in module.parameters())
        assert r.breakdown == {name: p.numel() for name, p in module.named_parameters()}
        assert r.course is None and r.course_params_right is None
        assert r.frames_out == module(torch.zeros(1, 50, r.encoder_dim)).shape[1]
    with pytest.raises(ValueError):
        projector_configs(extra=[(16, 0, 32, 8)])


def test_default_frame_count_is_what_a_hubert_encoder_gives():
    model = tiny_hubert()  # HuBERT's convolutional front end, as the course's encoder has
    for seconds in (3.0, 1.5, 0.9):
        samples = torch.randn(1, int(seconds * 16_000))
        with torch.no_grad():
            frames = model(samples).last_hidden_state.shape[1]
        assert waveform_encoder_frames(seconds) == frames
    assert waveform_encoder_frames(3.0) == 149
