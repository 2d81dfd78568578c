"""``python -m tiny_audio explore``: JSON and text output of every experiment, and its errors."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from explore_models import llama_style_params, swiglu_formula, tiny_pipeline
from tiny_models import speechlike

from tiny_audio.cli import main
from tiny_audio.explore.decoders import decoder_specs

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "tiny_audio", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_cli_explore_configs_json():
    out = run_cli("explore", "configs", "--json", "--custom", "16,3,32,8")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    true_counts = [121_643_264, 60_825_856, 184_561_664, 58_724_864, swiglu_formula(16, 3, 32, 8)]
    assert [r["params"] for r in rows] == true_counts
    assert [r["course_params_right"] for r in rows] == [True, False, False, False, None]
    assert rows[1]["course"]["params"] == 60_829_696


def test_cli_explore_decoders_json():
    out = run_cli("explore", "decoders", "--json", "--rank", "8")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    specs = {s["name"]: s["config"] for s in decoder_specs()}
    assert [r["name"] for r in report["rows"]] == list(specs)
    for row in report["rows"]:
        assert row["params"] == llama_style_params(specs[row["name"]], qk_norm=row["model_type"] == "qwen3")
        assert row["lora_rank"] == 8
    assert report["assumptions"] and report["course_errors"]


def test_cli_text_tables_and_errors(capsys):
    assert main(["explore", "configs"]) == 0
    text = capsys.readouterr().out
    assert "121,643,264 ✓" in text and "60,829,696 ✗" in text and "60,825,856" in text
    assert main(["explore", "rates", "--json", "--custom", "4"]) == 0
    rows = json.loads(capsys.readouterr().out)["rates"]
    assert [(r["rate"], r["frames_out"]) for r in rows] == [(2, 75), (3, 50), (5, 30), (8, 19), (10, 15), (4, 38)]
    assert main(["explore", "decoders"]) == 0
    assert "k_proj 4096→1024" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["explore", "configs", "--custom", "1,2,3"])
    assert exit_info.value.code == 2


def test_cli_rates_and_activations_on_a_file(tokenizer, tmp_path, monkeypatch, capsys):
    import tiny_audio.loading.load

    model = tiny_pipeline(tokenizer)
    monkeypatch.setattr(tiny_audio.loading.load, "load_model", lambda spec=None, **kwargs: model)
    clip = tmp_path / "clip.wav"
    sf.write(clip, speechlike(1.42), 16_000)

    assert main(["explore", "rates", str(clip), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stacking"]["frames_in"] == 71 and data["stacking"]["padded_frames"] == 4
    assert [r["frames_out"] for r in data["rates"]] == [math.ceil(71 / k) for k in (2, 3, 5, 8, 10)]
    assert main(["explore", "rates", str(clip)]) == 0
    text = capsys.readouterr().out
    assert "zero-padded with 4 frame(s)" in text
    assert "\n5 *" in text and text.rstrip().endswith("* the loaded model's rate")

    assert main(["explore", "activations", str(clip), "--json", "--bins", "12"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in report["glu"]] == ["GLU", "ReGLU", "GeGLU", "SwiGLU"]
    assert all(len(r["histogram"]["counts"]) == 12 for r in report["plain"] + report["glu"])
    assert main(["explore", "activations", str(clip), "--bins", "12"]) == 0
    text = capsys.readouterr().out
    assert "NOTICE: untrained projector" not in text and "gate pre-activations 1×15×64 from 71 encoder frames" in text
    assert "SwiGLU" in text and "grad (GLU): mean |∂L/∂x|" in text
    assert main(["explore", "activations", str(tmp_path / "missing.wav")]) == 1
