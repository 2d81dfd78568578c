"""The README's chain — dataset (synthetic and human) → encoder cache → train → eval — on a tiny
real set: espeak-ng speech, and a stand-in for a game's voice clips (espeak-ng speech stored as
the game stores it, with subtitles in capitals), the real nano encoder and LLM. Both losses
fall, a longer rerun resumes, and the exported weights load as the nano model and are scored
next to Whisper on the synthetic held-out and the human test split."""

import json
from pathlib import Path

import pytest
from game_packages import to_u8, write_drascula
from sample_text import write_fortunes

from tiny_audio.loading import nano as loading
from tiny_audio.pipeline.history import load_history
from tiny_audio.paths import EXAMPLES_DIR
from tiny_audio.training import dataset, encoder_cache, loop, model_card, train, tts
from tiny_audio.training import evaluate as evaluation
from tiny_audio.training.clips import read_manifest
from tiny_audio.training.human.records import TEST_SPLIT

pytestmark = pytest.mark.integration

TRAIN_ARGS = ["--align-steps", "30", "--align-batch", "4", "--lm-steps", "8", "--lm-batch", "4",
              "--val", "2", "--save-every", "100", "--lora-rank", "4"]


# A game's lines, one clip each (clip name → subtitle); the prefix names the speaker.
GAME_LINES = {
    "1": "THE OLD DOG FOUND A RED KITE", "2": "I'M JOHN HACKER", "3": "HA, HA, HA",
    "D1": "THE QUIET SAILOR LOST THE LONG LETTER", "B1": "THE TIRED FARMER CARRIED SOME WARM BREAD",
    "BJ1": "THE YOUNG TEACHER PAINTED THE BLUE DOOR", "E1": "THE HAPPY SAILOR FOUND AN EMPTY BOX",
    "I1": "YES, MY MASTER", "L1": "THE CLEVER DOG WATCHED A RED KITE", "P1": "I CAN ONLY PLAY THIS SONG",
    "T1": "THE OLD PAINTER LOST SOME WARM BREAD", "VB1": "WHO THE HELL IS CALLING AT THIS TIME?",
}  # fmt: skip


def write_game(cache):
    voices = ("en-us", "en-gb", "en-us+m3", "en-gb+f2", "en-029")
    lines = {}
    for index, (name, text) in enumerate(GAME_LINES.items()):
        samples, rate = tts.synthesize("espeak-ng", voices[index % len(voices)], text.lower(),
                                       {"speed_wpm": 150, "pitch": 40 + 3 * index})  # fmt: skip
        lines[name] = (text, to_u8(0.8 * samples / abs(samples).max(), rate))
    write_drascula(cache, lines)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("chain")
    (root / "fortunes").mkdir()
    fortunes = write_fortunes(root / "fortunes", 150)
    data = root / "data"
    dataset.build(data, sentences=8, held_out=2, seed=1, jobs=2, engines=("espeak-ng",), fortunes=fortunes,
                  progress=False)
    write_game(root / "debian")
    dataset.build_human(data, root / "debian", ("drascula",), jobs=2, progress=False, test_seconds=1.0,
                        test_speakers=2)
    assert encoder_cache.main([str(data)]) == 0
    run = root / "run"
    assert train.main([str(data), "--out", str(run), *TRAIN_ARGS]) == 0
    return data, run


def losses(run, stage):
    return [e["loss"] for e in loop.LossLog(run / "loss.jsonl").read() if e["stage"] == stage and "loss" in e]


def test_training_reads_the_human_clips_of_the_train_split(chain):
    data, run = chain
    records = read_manifest(data / "manifest.jsonl")
    human = [r for r in records if r.get("kind") == "human"]
    assert len(human) == len(GAME_LINES) - 1  # the laugh is no transcript
    assert {r["split"] for r in human} == {"train", TEST_SPLIT}
    info = json.loads((run / "args.json").read_text())
    trained = sum(1 for r in records if r["split"] == "train")
    assert info["data"]["train_clips"] == trained - 2  # all training clips but the 2 validated on


def test_both_stages_lower_the_loss(chain):
    _, run = chain
    align, lm = losses(run, "align"), losses(run, "lm")
    assert len(align) == 30 and len(lm) == 8
    assert sum(align[-5:]) / 5 < 0.7 * sum(align[:5]) / 5
    assert sum(lm[-3:]) / 3 < sum(lm[:3]) / 3


def test_the_history_starts_untrained_and_ends_on_what_the_app_computes_with_the_exported_weights(chain):
    data, run = chain
    history = load_history(run)
    sources = [p.source for p in history.probes]
    assert sources[:4] == ["example clip"] * 4 and sources[4].startswith("human speech (drascula/")
    first, last = history.snapshots[0], history.snapshots[-1]
    assert (first.stage, first.step) == ("align", 0) and (last.stage, last.step) == ("export", 8)
    assert [(s.stage, s.step) for s in history.snapshots[1:-1]] == [("align", 30), ("lm", 0), ("lm", 8)]
    model = loading.load_nano(weights=run)  # as the app loads the shipped files
    wav = str(sorted(EXAMPLES_DIR.glob("*.wav"))[0])
    result = model.transcribe(wav, beams=1)
    recorded = last.results[Path(wav).stem]
    assert recorded.text == result.text and recorded.token_ids == result.token_ids
    for ours, app in zip(recorded.stages, result.stages, strict=True):
        assert ours.name == app.name and ours.histogram.counts == app.histogram.counts
        assert (ours.mean, ours.std, ours.rms) == pytest.approx((app.mean, app.std, app.rms), rel=1e-4, abs=1e-6)
    assert recorded.trace.comparison.rms_ratio == pytest.approx(result.trace.comparison.rms_ratio, rel=1e-4)
    untrained = first.results[Path(wav).stem].trace.comparison
    assert abs(untrained.rms_ratio - 1) > abs(recorded.trace.comparison.rms_ratio - 1)  # training moved it


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
    assert f"split {TEST_SPLIT}: real human voices" in out and "nano / Whisper on human voices" in out
    result = json.loads(report.read_text())
    human_test = [r for r in read_manifest(data / "manifest.jsonl") if r["split"] == TEST_SPLIT]
    assert result["human_table"]["all"]["clips"] == len(human_test) == result["human_table"]["drascula"]["clips"]
    assert {row["split"] for row in result["clips"]} == {"held-out", TEST_SPLIT}
    assert "rank-4 LoRA" in result["model"]
    # A trained projector decodes as the app does: beam search, for Whisper's decoder too.
    assert result["beams"] == loading.NANO_BEAMS and f"beam search, {loading.NANO_BEAMS} beams" in captured.err
    assert result["table"]["all"]["clips"] == 2 and len(result["clips"]) == 2 + len(human_test)
    assert sum(1 for row in result["clips"] if row["split"] == "held-out") == 2
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
        ["NANO_MODEL_CARD.md", "nano_eval.json", "nano_loss.png", "nano_history.jsonl", *model_card.WEIGHTS])
    shipped = load_history(assets)
    assert [s.run for s in shipped.snapshots][0] == run.name and shipped.snapshots[-1].run == more.name
    assert [j["run"] for j in shipped.joins][-1] == more.name and shipped.joins[-1]["how"].startswith("warm from")
    assert {(c.run, c.stage) for c in shipped.losses} == {(run.name, "align"), (run.name, "lm"), (more.name, "lm")}
    assert (assets / "nano_loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (assets / "NANO_MODEL_CARD.md").read_text()
    wer = json.loads(report.read_text())["table"]["all"]["nano_wer"]
    assert "| all | 2 |" in text and f"{100 * wer:.1f}%" in text and "Both decode alike: greedy." in text
    assert "*Drascula: The Vampire Strikes Back* (Debian package `drascula`" in text
    human_wer = json.loads(report.read_text())["human_table"]["all"]["nano_wer"]
    assert "### Real human voices (split human-test" in text and f"{100 * human_wer:.1f}%" in text
    assert "human_table" in json.loads((assets / "nano_eval.json").read_text())
    trained = sum(1 for r in read_manifest(data / "manifest.jsonl") if r["split"] == "train") - 2  # 2 validate
    assert f"| {run.name} | 1 align | CTC onto the LLM's embedding matrix | {trained} | 30 |" in text
    assert f"| {run.name} | 2 lm | cross-entropy through the LLM, LoRA rank 4 on q/v | {trained} |" in text
    kept = min(vals, key=lambda e: (e["val_loss"], e["step"]))
    assert f"| {more.name} | 2 lm | cross-entropy through the LLM, LoRA rank 4 on q/k/v/o/gate/up/down, from {run.name} step " in text
    assert "| 4 | 4 | 0.0005 | yes |" in text and f"{kept['val_loss']} (step {kept['step']}) |" in text

    model = loading.load_nano(weights=assets)
    # The app quotes the figure on real human voices when the evaluation has one.
    assert model.projector_trained and model.notice.startswith("Trained on synthetic speech and recorded game voices")
    human_clips = sum(1 for r in read_manifest(data / "manifest.jsonl") if r["split"] == TEST_SPLIT)
    assert f"{100 * human_wer:.0f}% on {human_clips} clips of real human voices" in model.notice
