"""The decoder comparison (tiny_audio/explore/decoders.py): sizes against an independent formula,
LoRA and memory against the stated assumptions, data/decoders.json against transformers' defaults."""

import pytest
from explore_models import llama_style_params, swiglu_formula

from tiny_audio.explore.decoders import decoder_specs, decoder_table


@pytest.fixture(scope="module")
def decoders():
    return decoder_table(rank=16)


def test_decoder_params_equal_an_independent_formula(decoders):
    specs = {s["name"]: s for s in decoder_specs()}
    assert list(specs) == ["Qwen3-8B", "Qwen3-1.7B", "Llama-3-8B", "Mistral-7B-v0.1", "SmolLM3-3B", "SmolLM2-135M"]
    for row in decoders.rows:
        c = specs[row.name]["config"]
        assert row.params == llama_style_params(c, qk_norm=row.model_type == "qwen3"), row.name
        assert row.embedding_params == c["vocab_size"] * c["hidden_size"]
        assert (row.hidden_size, row.num_hidden_layers, row.num_key_value_heads, row.head_dim) == (
            c["hidden_size"], c["num_hidden_layers"], c["num_key_value_heads"], c["head_dim"])
    params = {r.name: r.params for r in decoders.rows}
    assert params["SmolLM2-135M"] == 134_515_008  # SmolLM2's published size, ~135M
    assert 8.0e9 < params["Llama-3-8B"] < 8.1e9 and 7.2e9 < params["Mistral-7B-v0.1"] < 7.3e9


def test_lora_projector_and_memory_follow_the_stated_assumptions(decoders):
    specs = {s["name"]: s["config"] for s in decoder_specs()}
    for row in decoders.rows:
        c, r = specs[row.name], 16
        h, hd = c["hidden_size"], c["head_dim"]
        q_out, kv_out = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
        per_layer = r * ((h + q_out) + 2 * (h + kv_out) + (q_out + h))
        assert row.lora_params == c["num_hidden_layers"] * per_layer, row.name
        assert row.lora_shapes == {
            "q_proj": [h, q_out], "k_proj": [h, kv_out], "v_proj": [h, kv_out], "o_proj": [q_out, h],
        }
        assert row.projector_params == swiglu_formula(1280, 5, 8192, h)
        assert row.trainable_params == row.projector_params + row.lora_params
        assert row.frozen_weights_gb == pytest.approx(2 * row.params / 1e9)
        assert row.trainable_state_gb == pytest.approx(16 * row.trainable_params / 1e9)
        assert row.training_gb == pytest.approx(row.frozen_weights_gb + row.trainable_state_gb)
    assert any("rank 16" in a for a in decoders.assumptions)
    assert any("16 bytes" in a for a in decoders.assumptions)


def test_the_courses_decoder_numbers_are_reproduced_and_differ(decoders):
    rows = {r.name: r for r in decoders.rows}
    qwen = rows["Qwen3-8B"]
    # The course: 4·2·2048·64·32 LoRA params, (122M + 2M + LoRA) × 12 bytes.
    assert qwen.course["hidden_dim"] == 2048 and qwen.hidden_size == 4096
    assert qwen.course["lora_params"] == 33_554_432
    assert qwen.course["memory_gb"] == pytest.approx((122e6 + 2e6 + 33_554_432) * 12 / 1e9)
    assert qwen.training_gb > 5 * qwen.course["memory_gb"]  # the frozen 8B decoder it leaves out
    assert "memory_gb" not in rows["Qwen3-1.7B"].course  # the course prints memory for its first three only
    ours_at_64 = decoder_table().rows[2]
    assert ours_at_64.name == "Llama-3-8B"
    assert rows["Llama-3-8B"].course["lora_params"] == 4 * 2 * 4096 * 64 * 32 != ours_at_64.lora_params
    assert rows["SmolLM3-3B"].course is None


def test_verified_claims_hold_against_transformers_defaults():
    import transformers

    checked = 0
    for spec in decoder_specs():
        for source, fields in spec["verified"].items():
            if not source.endswith("Config()"):
                continue
            defaults = getattr(transformers, source[:-2])()
            for name in fields:
                value = getattr(defaults, name)
                if name == "head_dim" and value is None:
                    value = defaults.hidden_size // defaults.num_attention_heads
                assert value == spec["config"][name], (spec["name"], source, name)
                checked += 1
    assert checked >= 25
