"""bench/gpu_scale.py at small scale on the CPU: the script runs end to end and its figures hold together."""

import importlib.util

import pytest

from tiny_audio.paths import ROOT

BENCH = ROOT / "bench" / "gpu_scale.py"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("gpu_scale", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--small", "--device", "cpu", "--runs", "1", "--clips", "3", "30", "--new-tokens", "12"])


def test_small_scale_report_is_complete_and_consistent(report):
    assert report["scale"] == "small" and report["bandwidth_Bps"] > 0 and report["matmul_flops"] > 0
    short, long = report["clips"]["3s"], report["clips"]["30s"]
    for clip in (short, long):
        for key in ("encoder", "projector", "prefill", "decode_per_token", "end_to_end_traced", "end_to_end_untraced"):
            assert clip[key] > 0, key
        assert clip["floor_decode_per_token"] == pytest.approx(report["decoder_weight_bytes"] / report["bandwidth_Bps"])
        assert clip["same_tokens_fast_vs_plain"] == 12
    # Counted FLOPs grow with the clip: ten times the audio, at least ten times the encoder work.
    assert long["encoder_flops"] >= 10 * short["encoder_flops"] > 0
    assert long["prompt_positions"] - short["prompt_positions"] == 300 - 30


def test_static_decoding_matches_plain_decoding_in_float32(report):
    assert report["graph_vs_plain_float32"].startswith("identical")
