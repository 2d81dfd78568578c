"""Evaluation's parts that need no model: the rows a dataset's clips count in (synthetic by
engine, human by game), the fixed subset of a split, and the bars, the human one included."""

import json

from tiny_audio.training import evaluate


def _manifest(folder, records):
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


RECORDS = [
    {"id": "heldout-1", "split": "held-out", "engine": "piper", "unseen_voice": False, "text": "A b c.",
     "path": "clips/heldout-1.wav"},
    {"id": "heldout-2", "split": "held-out", "engine": "flite", "unseen_voice": True, "text": "D e f.",
     "path": "clips/heldout-2.wav"},
    {"id": "human-queen-X-1", "split": "human-test", "kind": "human", "origin": "queen", "speaker": "queen/bob",
     "text": "Hi.", "path": "clips/human-queen-X-1.wav"},
    {"id": "human-drascula-Y-2", "split": "train", "kind": "human", "origin": "drascula",
     "speaker": "drascula/igor", "text": "Yes.", "path": "clips/human-drascula-Y-2.wav"},
]  # fmt: skip


def test_dataset_clips_count_in_their_engine_or_game(tmp_path):
    _manifest(tmp_path, RECORDS)
    held = evaluate.clips_from_dataset(tmp_path, "held-out")
    assert [c.groups for c in held] == [["piper"], ["flite", "voices unseen in training"]]
    human = evaluate.clips_from_dataset(tmp_path, evaluate.HUMAN_SPLIT)
    assert [(c.groups, c.split, c.reference) for c in human] == [(["queen"], "human-test", "Hi.")]
    assert evaluate.clips_from_dataset(tmp_path, "train")[0].groups == ["drascula"]


def test_a_sample_is_the_same_subset_whatever_the_order(tmp_path):
    clips = [evaluate.Clip(tmp_path / f"clip-{i}.wav", "x", ["g"]) for i in range(200)]
    chosen = evaluate.sample_clips(clips, 30)
    again = evaluate.sample_clips(list(reversed(clips)), 30)
    assert len(chosen) == 30 and {c.path for c in chosen} == {c.path for c in again}
    assert [c.path for c in chosen] == sorted((c.path for c in chosen), key=lambda p: int(p.stem.split("-")[1]))
    assert {c.path for c in chosen} != {c.path for c in clips[:30]}  # not simply the first ones


def test_bars_include_the_human_ratio():
    synthetic = {"all": {"nano_wer": 0.3, "whisper_wer": 0.25}, "piper": {"nano_wer": 0.2, "whisper_wer": 0.1}}
    human = {"all": {"nano_wer": 0.29, "whisper_wer": 0.1}}
    lines = evaluate.bar_lines(synthetic, human)
    assert lines == [
        "nano WER on Piper clips 20.0% (bar ≤ 15%): not met",
        "nano / Whisper WER overall 1.20 (bar ≤ 1.5): met",
        "nano / Whisper on human voices 2.90 (bar ≤ 2×): not met",
    ]
    assert evaluate.bar_lines(None, {"all": {"nano_wer": 0.19, "whisper_wer": 0.1}}) == [
        "nano / Whisper on human voices 1.90 (bar ≤ 2×): met"]
    assert evaluate.bar_lines(synthetic)[-1].startswith("nano / Whisper WER overall")
