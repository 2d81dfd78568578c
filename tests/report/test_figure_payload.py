"""What one full update of the figures costs the browser, with and without a trace (and, marked,
for the nano model)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from report_runs import PAYLOAD_LIMIT, all_figures, build, speechlike, traced_result

from tiny_audio.report import plots


def test_payload_is_the_json_the_browser_receives(tokenizer):
    figures = list(all_figures(traced_result(tokenizer), tokenizer, speechlike(2.0)).values())
    assert plots.figure_payload_bytes(figures) == sum(len(f.to_json().encode("utf-8")) for f in figures)


def test_a_full_update_for_a_30s_clip_at_nano_shapes_fits_the_budget(tokenizer):
    # Same shapes as the nano model where they set the payload: 300 projected frames of 576 dims.
    samples = speechlike(30.0)
    long = build(tokenizer, llm_dim=576).transcribe((samples, 16_000), max_new_tokens=5)
    assert long.stages[1].shape[1] == 300 and len(long.trace.dim_variance) == 576
    figures = all_figures(long, tokenizer, samples)
    sizes = {name: plots.figure_payload_bytes([fig]) for name, fig in figures.items()}
    assert sum(sizes.values()) <= PAYLOAD_LIMIT, sizes
    for fig in figures.values():
        assert fig.layout.height
        assert "colorway" not in fig.to_json()  # no default template


def test_figures_without_a_trace_say_so(tokenizer):
    plain = build(tokenizer).transcribe((speechlike(1.0), 16_000), max_new_tokens=2, trace=False)
    for fig in all_figures(plain, tokenizer, None).values():
        assert not fig.data and fig.layout.annotations and fig.layout.height


def test_the_pipeline_does_not_import_plotly():
    code = (
        "import sys, tiny_audio, tiny_audio.pipeline.model, tiny_audio.pipeline.trace; "
        "assert 'plotly' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.integration
def test_nano_model_full_update_fits_the_budget(tmp_path):
    from tiny_audio import load_model
    from tiny_audio.pipeline.audio import load_audio

    model = load_model()
    wav = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(wav), "The quick brown fox jumps over the lazy dog near the river bank."], check=True
    )
    speech = load_audio(str(wav))
    assert 2.0 < speech.size / 16_000 < 6.0
    # A 30 s clip, the longest the encoder takes: the sentence repeated with short pauses.
    pause = np.zeros(8_000, dtype=np.float32)
    repeated = np.concatenate([np.concatenate([speech, pause])] * 10)
    long = np.pad(repeated, (0, max(0, 480_000 - repeated.size)))[:480_000]
    sizes = {}
    for name, samples in (("3s", speech), ("30s", long)):
        result = model.transcribe(samples, max_new_tokens=16)
        figures = all_figures(result, model.tokenizer, samples)
        sizes[name] = {key: plots.figure_payload_bytes([fig]) for key, fig in figures.items()}
        assert sum(sizes[name].values()) <= PAYLOAD_LIMIT, sizes
        (heatmap,) = [t for t in figures["nearest_tokens"].data if t.type == "heatmap"]
        labels = [label for row in heatmap.text for label in row]
        assert not any("Ġ" in label or "Ċ" in label for label in labels)
    assert result.stages[1].shape[1] == 300
    print(json.dumps(sizes))
