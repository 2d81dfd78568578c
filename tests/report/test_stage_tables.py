"""The per-stage statistics table and the course's Exercise 1 trace table."""

import pytest
from report_runs import build, speechlike, tiny_tokenizer, traced_result

from tiny_audio.report.stage_tables import stats_rows, trace_rows


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def result(tokenizer):
    return traced_result(tokenizer)


def significant_digits(text):
    mantissa = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa)


def test_stats_rows(result):
    headers, rows = stats_rows(result)
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
    headers, rows = trace_rows(result, k=5)
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
    assert stats_rows(plain)[1] == [] and trace_rows(plain, 5)[1] == []
