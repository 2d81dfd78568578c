"""The per-stage statistics table and the course's Exercise 1 trace table."""

import pytest
from report_runs import build, speechlike, traced_result

from tiny_audio.report.stage_tables import comparison_table, stats_table, timing_line, trace_table


@pytest.fixture(scope="module")
def result(tokenizer):
    return traced_result(tokenizer)


def significant_digits(text):
    mantissa = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa)


def test_stats_table(result):
    table = stats_table(result)
    headers, rows = table.headers, table.rows
    assert headers == ["stage", "shape", "mean", "std", "min", "max", "RMS", "% zeros"]
    panels = list(result.stages) + [result.native.stats]
    assert [row[0] for row in rows] == [s.name for s in panels]
    assert rows[-1][0] == "LLM token embeddings"
    for row, stats in zip(rows, panels):
        assert row[1] == "×".join(map(str, stats.shape))
        values = (stats.mean, stats.std, stats.min, stats.max, stats.rms, 100 * stats.zero_fraction)
        for cell, value in zip(row[2:], values):
            assert isinstance(cell, str) and significant_digits(cell) <= 4
            assert float(cell) == pytest.approx(value, rel=1e-3, abs=1e-12)


def test_trace_rows_follow_exercise_one(result):
    table = trace_table(result)
    headers, rows = table.headers, table.rows
    assert headers[:4] == ["stage", "shape", "frames", "feature dim"] and "k=5" in headers[4]
    names = [s.name for s in result.stages if s.name != "generated tokens"]
    assert [row[0] for row in rows] == names and names[0] == "encoder output"
    by_name = dict(zip(names, rows))
    # 2 s of Whisper frames at 50/s → 100 frames of 20 ms; stacking 5 → 20 frames of 100 ms.
    assert by_name["encoder output"][2:] == ["100", "32", "1.00×", "20.0"]
    assert by_name["stacked"][2:] == ["20", "160", "5.00×", "100.0"]
    assert by_name["post-norm"][1:4] == ["1×20×48", "20", "48"]


def test_tables_without_a_trace_are_empty(tokenizer):
    plain = build(tokenizer).transcribe((speechlike(1.0), 16_000), max_new_tokens=2, trace=False)
    assert stats_table(plain).rows == [] and trace_table(plain).rows == [] and comparison_table(plain).rows == []


def test_an_audio_token_is_k_encoder_frames_of_audio_even_when_the_last_is_padded(tokenizer):
    # 1.53 s → 77 Whisper frames → 16 tokens at k=5, the last with 3 frames of zero padding:
    # duration / tokens would say 95.6 ms; each token is 100 ms of (partly padded) audio.
    padded = build(tokenizer).transcribe((speechlike(1.53), 16_000), max_new_tokens=2)
    assert (padded.encoder_frames, padded.audio_tokens, padded.k) == (77, 16, 5)
    rows = dict((row[0], row) for row in trace_table(padded).rows)
    assert rows["encoder output"][5] == "20.0" and rows["stacked"][5] == "100.0" and rows["post-norm"][5] == "100.0"
    assert timing_line(padded) == ("77 encoder frames → 16 LLM audio tokens (k=5): 20 ms of audio per encoder "
                                   "frame, 100 ms per audio token; the last token's 3 missing frames are zeros")


def test_comparison_table_reads_the_trace(result):
    table = comparison_table(result)
    c = result.trace.comparison
    values = {row[0]: row[1] for row in table.rows}
    assert values["RMS ratio (projector ÷ token embeddings)"] == f"{c.rms_ratio:.2f}"
    assert values["total variation distance"] == f"{c.total_variation:.2f}"
    assert table.to_markdown().splitlines()[1] == "|---|---:|---|"
