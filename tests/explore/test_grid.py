"""Exercise 2's grid (tiny_audio/explore/grid.py): every panel is the traced stage it names."""

import pytest
from explore_models import tiny_pipeline
from tiny_models import speechlike

from tiny_audio.explore.grid import grid_panels


@pytest.mark.parametrize("kind", ["swiglu", "mlp"])
def test_stage_grid_takes_its_panels_from_the_trace(tokenizer, kind):
    model = tiny_pipeline(tokenizer, kind)
    result = model.transcribe((speechlike(1.42), 16_000), max_new_tokens=2)
    panels = grid_panels(result)
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
    assert target.title.startswith("LLM token embeddings (μ=") and target.shape == tuple(embeddings.shape)
    # Named as on every other tab; the projector's output says it is.
    assert [p.title.split(" (")[0].removesuffix(" → LLM") for p in panels] == expected + ["LLM token embeddings"]
    assert panels[4].title.startswith(f"{expected[-1]} → LLM (μ=")
    assert target.std == pytest.approx(embeddings.std(unbiased=False).item(), rel=1e-5)


def test_an_mlp_without_norm_2_shows_its_own_last_stage_as_the_final_panel(tokenizer):
    from tiny_audio.explore.grid import grid_layout
    from tiny_audio.pipeline.stages import CONV_MLP_STAGES, MLP_STAGES_WITHOUT_NORM_2

    assert grid_layout(MLP_STAGES_WITHOUT_NORM_2) == (
        ("stacked", "stacked"), ("linear_1", "linear_1"), ("norm", "norm"), ("gelu", "gelu"), ("linear_2", "linear_2 → LLM"))
    assert [stage for stage, _ in grid_layout(CONV_MLP_STAGES)] == list(CONV_MLP_STAGES)
