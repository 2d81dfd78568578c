"""The nearest-token strip and the labels it prints for vocabulary pieces."""


import numpy as np
import pytest
from report_runs import speechlike, traced_result

from tiny_audio.pipeline.tokens import token_text
from tiny_audio.report import plots


@pytest.fixture(scope="module")
def result(tokenizer):
    return traced_result(tokenizer)


def test_nearest_token_strip_has_a_column_per_frame_with_the_decoded_tokens(result, tokenizer):
    waveform = speechlike(2.0)
    fig = plots.nearest_tokens(result, waveform)
    (heatmap,) = [t for t in fig.data if t.type == "heatmap"]
    nearest = result.trace.nearest_tokens
    frames = result.stages[1].shape[1]
    assert len(nearest) == frames
    z = np.asarray(heatmap.z)
    assert z.shape == (3, frames)
    seconds_per_frame = 0.1  # k = 5 encoder frames of 20 ms each
    assert heatmap.dx == pytest.approx(seconds_per_frame, rel=1e-5)
    assert heatmap.x0 == pytest.approx(seconds_per_frame / 2, rel=1e-5)  # cells span [start, end)
    for f, row in enumerate(nearest):
        for r, (token_id, cosine) in enumerate(row):
            piece = tokenizer.convert_ids_to_tokens(token_id)
            assert heatmap.text[r][f] == plots.readable_token(token_text(tokenizer, piece))
            assert z[r, f] == pytest.approx(cosine, abs=1e-6)
    labels = "".join(label for row in heatmap.text for label in row)
    assert labels and not set(labels) & {"Ġ", "Ċ", "<", ">", "\ufffd"}
    assert "%{text}" in heatmap.hovertemplate and "%{z" in heatmap.hovertemplate
    # Waveform envelope on top, on the same time axis.
    envelope = [t for t in fig.data if t.type == "scatter"]
    assert len(envelope) == 2 and fig.layout.xaxis.matches == "x2"
    assert sum(len(t.y) for t in envelope) <= plots.ENVELOPE_MAX_POINTS
    assert envelope[0].dx == pytest.approx(0.01, rel=1e-6)  # 10 ms columns for a short clip


def test_tokens_are_made_readable(tokenizer):
    def shown(text):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        pieces = tokenizer.convert_ids_to_tokens(ids)
        return [plots.readable_token(tokenizer.convert_tokens_to_string([p])) for p in pieces]

    assert any("Ġ" in p for p in tokenizer.convert_ids_to_tokens(tokenizer(" a b")["input_ids"]))
    labels = shown(" a b\n")
    assert "Ġ" not in "".join(labels) and "Ċ" not in "".join(labels)
    assert "␣" in "".join(labels) and "⏎" in "".join(labels)
    assert plots.readable_token("<|im_end|>", limit=20) == "&lt;|im_end|&gt;"
    assert plots.readable_token("abcdefghijkl", limit=8) == "abcdefg…"
    assert plots.readable_token("\x00\u200b") == "\\x00\\u200b"


def test_long_clip_envelope_stays_small():
    step, low, high = plots.waveform_envelope(speechlike(30.0))
    assert len(low) + len(high) <= plots.ENVELOPE_MAX_POINTS and len(low) >= 900
    assert step * len(low) == pytest.approx(30.0, rel=0.01)
    samples = speechlike(30.0)
    column = int(round(step * 16_000))
    assert high[7] == samples[7 * column : 8 * column].max() and low[7] == samples[7 * column : 8 * column].min()
