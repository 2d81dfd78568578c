"""The README's chain — dataset → encoder cache → train → eval — on a tiny real set: espeak-ng
speech, the real nano encoder and LLM. Both losses fall, a longer rerun resumes, and the
exported weights load as the nano model and are scored next to Whisper."""

import json

import pytest
from sample_text import write_fortunes

from tiny_audio.loading import nano as loading
from tiny_audio.training import dataset, encoder_cache, model_card, train, loop
from tiny_audio.training import evaluate as evaluation

pytestmark = pytest.mark.integration

TRAIN_ARGS = ["--align-steps", "30", "--align-batch", "4", "--lm-steps", "8", "--lm-batch", "4",
              "--val", "2", "--save-every", "100", "--lora-rank", "4"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("chain")
    (root / "fortunes").mkdir()
    fortunes = write_fortunes(root / "fortunes", 150)
    data = root / "data"
    dataset.build(data, sentences=8, held_out=2, seed=1, jobs=2, engines=("espeak-ng",), fortunes=fortunes,
                  progress=False)
    assert encoder_cache.main([str(data)]) == 0
    run = root / "run"
    assert train.main([str(data), "--out", str(run), *TRAIN_ARGS]) == 0
    return data, run


def losses(run, stage):
    return [e["loss"] for e in loop.LossLog(run / "loss.jsonl").read() if e["stage"] == stage and "loss" in e]


def test_both_stages_lower_the_loss(chain):
    _, run = chain
    align, lm = losses(run, "align"), losses(run, "lm")
    assert len(align) == 30 and len(lm) == 8
    assert sum(align[-5:]) / 5 < 0.7 * sum(align[:5]) / 5
    assert sum(lm[-3:]) / 3 < sum(lm[:3]) / 3


def test_a_longer_rerun_resumes_from_the_checkpoints(chain):
    data, run = chain
    args = [a if a != "8" else "10" for a in TRAIN_ARGS]
    assert train.main([str(data), "--out", str(run), *args]) == 0
    entries = [e for e in loop.LossLog(run / "loss.jsonl").read() if "loss" in e]
    assert [e["step"] for e in entries if e["stage"] == "align"] == list(range(1, 31))  # not run again
    assert [e["step"] for e in entries if e["stage"] == "lm"] == list(range(1, 11))


def test_exported_weights_load_as_nano_and_eval_scores_them_beside_whisper(chain, capsys, tmp_path):
    data, run = chain
    report = tmp_path / "wer.json"
    assert evaluation.main([str(data), "--weights", str(run), "--json", str(report)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "nano WER" in out and "whisper WER" in out and "nano / Whisper WER overall" in out
    result = json.loads(report.read_text())
    assert "rank-4 LoRA" in result["model"]
    # A trained projector decodes as the app does: beam search, for Whisper's decoder too.
    assert result["beams"] == loading.NANO_BEAMS and f"beam search, {loading.NANO_BEAMS} beams" in captured.err
    assert result["table"]["all"]["clips"] == 2 and len(result["clips"]) == 2
    assert all(0 <= result["table"]["all"][f"{name}_wer"] for name in ("nano", "whisper"))


def test_a_run_that_goes_on_from_another_ships_with_its_card_and_the_app_quotes_its_wer(chain, tmp_path):
    data, run = chain
    more = tmp_path / "more"  # a second lm run from the first one's weights, masked, its adapter grown
    assert train.main([str(data), "--out", str(more), "--stage", "lm", "--init", str(run), "--mask", "--lora-targets", "all",
                       "--lm-steps", "4", "--lm-batch", "4", "--val", "2", "--save-every", "2", "--lora-rank", "4"]) == 0
    vals = [e for e in loop.LossLog(more / "loss.jsonl").read() if "val_loss" in e]
    assert [e["step"] for e in vals] == [0, 2, 4]  # from the first run's weights, then every 2 steps
    report = tmp_path / "wer.json"
    assert evaluation.main([str(data), "--weights", str(more), "--json", str(report), "--no-whisper",
                            "--beams", "1"]) == 0
    assets = tmp_path / "assets"
    assert model_card.main([str(more), "--dataset", str(data), "--eval", str(report), "--out", str(assets)]) == 0
    assert sorted(p.name for p in assets.iterdir()) == sorted(
        ["NANO_MODEL_CARD.md", "nano_eval.json", "nano_loss.png", *model_card.WEIGHTS])
    assert (assets / "nano_loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (assets / "NANO_MODEL_CARD.md").read_text()
    wer = json.loads(report.read_text())["table"]["all"]["nano_wer"]
    assert "| all | 2 |" in text and f"{100 * wer:.1f}%" in text and "Both decode alike: greedy." in text
    assert f"| {run.name} | 1 align | CTC onto the LLM's embedding matrix | 6 | 30 |" in text
    assert f"| {run.name} | 2 lm | cross-entropy through the LLM, LoRA rank 4 on q/v | 6 |" in text
    kept = min(vals, key=lambda e: (e["val_loss"], e["step"]))
    assert f"| {more.name} | 2 lm | cross-entropy through the LLM, LoRA rank 4 on q/k/v/o/gate/up/down, from {run.name} step " in text
    assert "| 4 | 4 | 0.0005 | yes |" in text and f"{kept['val_loss']} (step {kept['step']}) |" in text

    model = loading.load_nano(weights=assets)
    assert model.projector_trained and model.notice.startswith("Trained on synthetic text-to-speech only")
    assert f"{100 * wer:.0f}% on all engines" in model.notice
