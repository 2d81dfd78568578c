"""Exercise 1, Experiment 1 (tiny_audio/explore/rates.py): frame counts checked against the real
projectors' forward passes and the arithmetic."""

import math

import pytest
import torch
from explore_models import tiny_pipeline
from tiny_models import speechlike

from tiny_audio.explore.rates import downsampling_table, model_stacking, stacked_frames
from tiny_audio.pipeline.projector import AudioProjector, MLPAudioProjector


@pytest.mark.parametrize("mode", ["pad", "truncate"])
def test_stacked_frames_agree_with_the_projectors_forward_pass(mode):
    """Frame counts for every (T, k) equal the output length of the real projector module."""
    for k in (1, 2, 3, 5, 8):
        module = AudioProjector if mode == "pad" else MLPAudioProjector
        projector = module(4, 6, k=k, hidden_dim=8)
        for frames in range(k, 40):
            with torch.no_grad():
                out = projector(torch.randn(1, frames, 4))
            assert stacked_frames(frames, k, mode) == out.shape[1], (k, frames)


def test_downsampling_table_matches_the_arithmetic():
    rows = downsampling_table(149, 2048)
    assert [r.rate for r in rows] == [2, 3, 5, 8, 10]
    for r in rows:
        expected = math.ceil(149 / r.rate)
        assert r.frames_out == expected and r.frames_in == 149
        assert r.padded_frames == expected * r.rate - 149 and r.dropped_frames == 0
        assert r.ms_per_token == 20 * r.rate  # k frames of 20 ms, however many are padding
        assert r.compression == pytest.approx(149 / expected)
        assert r.embed_bytes_fp32 == expected * 2048 * 4 and r.embed_bytes_bf16 == expected * 2048 * 2
    assert [r.frames_out for r in rows] == [75, 50, 30, 19, 15]

    truncated = downsampling_table(149, 2048, rates=(5, 8), custom=[4, 5, 200], mode="truncate")
    assert [(r.rate, r.custom) for r in truncated] == [(5, False), (8, False), (4, True), (200, True)]
    assert [r.frames_out for r in truncated] == [29, 18, 37, 0]
    assert [r.dropped_frames for r in truncated] == [4, 5, 1, 149]
    assert truncated[-1].ms_per_token is None and truncated[-1].compression is None
    with pytest.raises(ValueError):
        downsampling_table(149, 2048, mode="average")


@pytest.mark.parametrize("kind, k, mode", [("swiglu", 5, "pad"), ("mlp", 4, "truncate")])
def test_model_stacking_reports_what_the_projector_did(tokenizer, kind, k, mode):
    model = tiny_pipeline(tokenizer, kind)
    # 1.42 s → Whisper keeps ceil(22720 / 320) = 71 frames.
    result = model.transcribe((speechlike(1.42), 16_000), max_new_tokens=1)
    stacking = model_stacking(model, result)
    assert (stacking.k, stacking.mode, stacking.frames_in, stacking.llm_dim) == (k, mode, 71, 48)
    assert stacking.frames_out == result.trace.stage("stacked").shape[1]
    if mode == "pad":
        assert (stacking.frames_out, stacking.padded_frames, stacking.dropped_frames) == (15, 4, 0)
        assert "zero-padded with 4 frame(s) to 75" in stacking.summary
    else:
        assert (stacking.frames_out, stacking.padded_frames, stacking.dropped_frames) == (17, 0, 3)
        assert "3 trailing frame(s) dropped" in stacking.summary
    assert stacking.ms_per_token == 20 * k and stacking.ms_per_encoder_frame == 20
    untraced = model.transcribe((speechlike(1.42), 16_000), max_new_tokens=1, trace=False)
    with pytest.raises(ValueError):
        model_stacking(model, untraced)
