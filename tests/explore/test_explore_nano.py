"""The explore experiments on the real nano model."""

import math
from pathlib import Path

import pytest

from tiny_audio.explore.activations import study_activations
from tiny_audio.explore.decoders import count_parameters, decoder_on_meta, decoder_specs
from tiny_audio.explore.grid import grid_panels
from tiny_audio.explore.rates import model_stacking

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_nano_model_explorations():
    from tiny_audio import load_model

    model = load_model()
    clip = ROOT / "assets" / "examples" / "fox_piper.wav"
    result = model.transcribe(str(clip), max_new_tokens=1)
    stacking = model_stacking(model, result)
    assert (stacking.projector, stacking.k, stacking.mode, stacking.llm_dim) == ("AudioProjector", 5, "pad", 576)
    assert stacking.frames_out == math.ceil(stacking.frames_in / 5)

    report = study_activations(model, str(clip))
    assert report.gate_shape == (1, stacking.frames_out, model.projector.gate_proj.out_features)
    assert all(math.isfinite(r.grad_mean_abs) and r.grad_mean_abs > 0 for r in report.plain + report.glu)
    assert len(grid_panels(result)) == 6

    # The data file's SmolLM2-135M entry is the nano decoder's own configuration.
    spec = next(s for s in decoder_specs() if s["name"] == "SmolLM2-135M")
    config = model.decoder.config
    for name in spec["verified"]["nano decoder"]:
        assert getattr(config, name) == spec["config"][name], name
    assert count_parameters(decoder_on_meta(spec)) == sum(p.numel() for p in model.decoder.parameters())
