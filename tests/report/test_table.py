"""The one table type both front ends draw."""

import pytest

from tiny_audio.report.table import Table


def test_text_and_markdown_show_the_same_cells_aligned_as_asked():
    table = Table(["stage", "mean", "reads as"], [["encoder output", "0.1", "centred"], ["x", "-12.5", "a|b"]],
                  notes=["a note"], align="lrl")
    assert table.to_text().splitlines() == [
        "stage            mean  reads as",
        "-------------------------------",
        "encoder output    0.1  centred",
        "x               -12.5  a|b",
        "",
        "a note",
    ]
    assert table.to_markdown().splitlines() == [
        "| stage | mean | reads as |", "|---|---:|---|", "| encoder output | 0.1 | centred |", "| x | -12.5 | a\\|b |",
        "", "a note",
    ]


def test_a_row_that_does_not_fit_the_headers_is_refused():
    with pytest.raises(ValueError, match="cells"):
        Table(["a", "b"], [["1"]])
    with pytest.raises(ValueError, match="align"):
        Table(["a", "b"], [], align="l")
