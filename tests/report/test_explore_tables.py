"""The explore tables (tiny_audio/report/explore_tables.py) that the CLI prints and the app shows:
every column of the experiments' rows, the course's ✓/✗ marks and the notes on its wrong rows."""

import torch

from tiny_audio.explore.activations import ACTIVATION_NOTES, activation_study
from tiny_audio.explore.configs import projector_configs
from tiny_audio.explore.decoders import decoder_table
from tiny_audio.explore.rates import downsampling_table
from tiny_audio.report.explore_tables import (
    ACTIVATION_HEADERS,
    CONFIG_HEADERS,
    DECODER_HEADERS,
    MODEL_RATE_NOTE,
    RATE_HEADERS,
    activations_table,
    configs_table,
    decoders_table,
    rates_table,
)


def test_rates_table_marks_the_models_rate_and_the_custom_ones():
    rows = downsampling_table(149, 2048, rates=(2, 5), custom=[4, 200], mode="truncate")
    table = rates_table(rows, model_k=5)
    assert table.headers == RATE_HEADERS
    assert [r[0] for r in table.rows] == ["2", "5 *", "4 (custom)", "200 (custom)"]
    assert table.notes == [MODEL_RATE_NOTE]
    for cells, r in zip(table.rows, rows):
        assert cells[1:3] == [str(r.frames_in), str(r.frames_out)]
        assert cells[4:6] == [str(r.padded_frames), str(r.dropped_frames)]
        assert cells[6] == f"{r.embed_bytes_fp32 / 1024:,.1f}" and cells[7] == f"{r.embed_bytes_bf16 / 1024:,.1f}"
    assert table.rows[1][3] == "100.0"  # k = 5 frames of 20 ms (truncation drops the rest)
    assert table.rows[-1][2:4] == ["0", "—"]  # more than the clip's frames: no token comes out
    text = table.to_text()
    assert "5 *" in text and text.endswith(MODEL_RATE_NOTE)

    plain = rates_table(downsampling_table(149, 2048))
    assert plain.notes == [] and [r[2] for r in plain.rows] == ["75", "50", "30", "19", "15"]


def test_activations_table_has_every_row_and_the_notes():
    torch.manual_seed(0)
    rows = activation_study(torch.randn(1, 6, 10), bins=5)

    class Report:  # the two lists and the notes of an ActivationReport
        plain, glu, notes = rows[:4], rows[4:], dict(ACTIVATION_NOTES)

    table = activations_table(Report)
    assert table.headers == ACTIVATION_HEADERS and len(table.rows) == 8
    assert [(r[0], r[1]) for r in table.rows] == [(r.name, r.data) for r in rows]
    relu = table.rows[0]
    assert relu[2] == f"{rows[0].sparsity:.2%}" and relu[6] == f"{rows[0].grad_mean_abs:.4g}"
    for key, value in ACTIVATION_NOTES.items():
        assert f"- {key}: {value}" in table.notes


def test_configs_table_marks_the_courses_rows_and_says_where_it_is_wrong():
    table = configs_table(projector_configs(extra=[(16, 3, 32, 8)]))
    assert table.headers == CONFIG_HEADERS
    assert [r[5] for r in table.rows][:2] == ["121,643,264", "60,825,856"]
    assert [r[6] for r in table.rows] == ["121,643,264 ✓", "60,829,696 ✗ wrong", "121,651,456 ✗ wrong",
                                          "121,634,880 ✗ wrong", ""]
    assert table.rows[2][7:] == ["19", "160.0", "7.84×"]  # k = 8 frames of 20 ms
    wrong, frames = table.notes
    assert wrong.startswith("✗ the course's expected table is wrong here")
    assert "Smaller Projector has 60,825,856, not 60,829,696" in wrong and "Actual" not in wrong
    assert "More Downsampling 18 frames at 166.7 ms, the projector gives 19 at 160.0 ms" in frames

    other_clip = configs_table(projector_configs(duration_s=1.0, encoder_frames=50), course_clip=False)
    assert len(other_clip.notes) == 1  # the parameter counts are wrong on any clip


def test_decoders_table_keeps_shapes_course_numbers_assumptions_and_sources():
    report = decoder_table(rank=8)
    table = decoders_table(report)
    assert table.headers == DECODER_HEADERS and [r[0] for r in table.rows] == [r.name for r in report.rows]
    qwen, row = table.rows[0], report.rows[0]
    assert qwen[1:4] == ["4096", "36", "32/8"] and qwen[6] == "no"
    assert qwen[7:10] == [f"{row.params:,}", f"{row.projector_params:,}", f"{row.lora_params:,}"]
    assert qwen[10:] == [f"{row.frozen_weights_gb:.1f}", f"{row.trainable_state_gb:.2f}", f"{row.training_gb:.1f}"]
    notes = "\n".join(table.notes)
    assert "- Qwen3-8B: rank 8 on q_proj 4096→4096, k_proj 4096→1024, v_proj 4096→1024, o_proj 4096→4096" in notes
    assert "- Qwen-3 8B (Actual): hidden 2048 (true 4096)" in notes
    assert f"LoRA 33,554,432 (ours at rank 8: {row.lora_params:,})" in notes
    for line in report.assumptions + report.course_errors:
        assert f"- {line}" in table.notes
    for r in report.rows:
        assert f"- {r.name}: {r.source}" in table.notes
