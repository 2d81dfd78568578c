"""The offline nano model end to end: real weights, a real espeak-ng clip, the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tiny_audio.paths import ROOT


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "please send the weekly report to the team"], check=True)
    return path


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "tiny_audio", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.integration
def test_cli_trace_prints_every_stage_and_the_shipped_models_measured_notice(clip):
    from tiny_audio.loading.nano import ASSETS, NANO_EVAL, nano_notice

    out = run_cli("trace", str(clip))
    assert out.returncode == 0, out.stderr
    for stage in ("encoder output", "stacked", "pre-norm", "gate", "up", "swiglu", "down", "post-norm",
                  "LLM token embeddings"):
        assert f"\n{stage} " in out.stdout, stage
    assert "1×" in out.stdout and "×384" in out.stdout and "×576" in out.stdout
    # The shipped projector is trained: the notice quotes its measured error rates, never "untrained".
    assert f"NOTICE:     {nano_notice(ASSETS / NANO_EVAL)}" in out.stdout
    assert "Untrained projector" not in out.stdout


@pytest.mark.integration
def test_cli_json_has_consistent_shapes_and_histograms(clip):
    out = run_cli("trace", str(clip), "--json", "--max-new-tokens", "4")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    stages = {s["name"]: s for s in data["trace"]["stages"]}
    encoder_frames = stages["encoder output"]["shape"][1]
    # espeak's clip is ~2.5 s: Whisper keeps only the frames covering it, not all 1500.
    assert 100 < encoder_frames < 200
    assert stages["stacked"]["shape"] == [1, -(-encoder_frames // 5), 384 * 5]
    assert stages["post-norm"]["shape"][2] == 576
    for stats in stages.values():
        assert sum(stats["histogram"]["counts"]) == stats["numel"]
    assert data["llm_embeddings"]["stats"]["shape"] == [49152, 576]
    assert 0 < len(data["token_ids"]) <= 4


@pytest.mark.integration
def test_cli_bad_input_is_one_clear_line(tmp_path):
    fake = tmp_path / "fake.wav"
    fake.write_text("not audio")
    out = run_cli("trace", str(fake))
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error: 'fake.wav' is not a readable audio file")
    assert "Traceback" not in out.stderr


@pytest.fixture(scope="module")
def shipped_nano():
    from tiny_audio import load_model

    return load_model()


def _example_params():
    from tiny_audio.app.examples import example_clips

    return [pytest.param(wav, reference, id=Path(wav).stem) for wav, reference in example_clips()]


@pytest.mark.integration
@pytest.mark.parametrize("wav, reference", _example_params())
def test_the_shipped_nano_model_transcribes_the_example_clip(shipped_nano, wav, reference):
    from tiny_audio.training.evaluate import normaliser

    assert shipped_nano.projector_trained and "LoRA" in shipped_nano.name
    normalise = normaliser()
    text = shipped_nano.transcribe(wav, trace=False).text
    assert normalise(text) == normalise(reference), text


@pytest.mark.integration
def test_the_bfloat16_copy_that_live_updates_use_transcribes_the_examples_alike(shipped_nano):
    import torch

    from tiny_audio.app.examples import example_clips

    from tiny_audio.report.words import word_error_rate

    fast = shipped_nano.in_dtype(torch.bfloat16)
    # Greedily, as live updates decode. bfloat16 rounding may tip a spelling ("to-night" for
    # "tonight") but not the words heard: at most one word in ten differs on any clip.
    for wav, _ in example_clips():
        full = shipped_nano.transcribe(wav, trace=False, beams=1).text
        fast_text = fast.transcribe(wav, trace=False, beams=1).text
        assert word_error_rate(full.replace("-", ""), fast_text.replace("-", "")) <= 0.1, (wav, full, fast_text)
