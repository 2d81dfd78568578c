"""The training history: snapshots written as training goes (step 0 first), read back as the
results the app draws, dropped and carried as a resumed or warm-started run needs."""

import json

import pytest
import torch
from tiny_models import speechlike, tiny_pipeline
from test_train import _stage, examples

from tiny_audio.pipeline.history import Probe, compact, expand, load_history
from tiny_audio.training import loop, train
from tiny_audio.training.history import HistoryRecorder


def recorder(model, out, every=10):
    probes = [(Probe("speech", "the cat sat", "test clip", 1.5), speechlike(1.5, seed=1)),
              (Probe("other", "a dog ran", "test clip", 1.2), speechlike(1.2, seed=2))]
    return HistoryRecorder(model, probes, out, every)


def snapshot_keys(path):
    return [(e["run"], e["stage"], e["step"]) for e in map(json.loads, path.read_text().splitlines())
            if e["type"] == "snapshot"]


def test_a_compact_result_reads_back_as_the_numbers_the_app_computed(tiny_model):
    result = tiny_model.transcribe(speechlike(1.5), beams=1)
    back = expand(json.loads(json.dumps(compact(result))), result.native)
    assert back.text == result.text and back.token_ids == result.token_ids and back.k == result.k
    assert [s.name for s in back.stages] == [s.name for s in result.stages]
    for ours, theirs in zip(back.stages, result.stages):
        assert ours.histogram.counts == theirs.histogram.counts
        spread = theirs.max - theirs.min  # edges come back from min and max at 5 significant digits
        assert ours.histogram.edges == pytest.approx(theirs.histogram.edges, abs=1e-4 * spread)
        assert (ours.mean, ours.std, ours.rms) == pytest.approx((theirs.mean, theirs.std, theirs.rms), rel=1e-4, abs=1e-7)
    assert [[t for t, _ in row] for row in back.trace.nearest_tokens] == [[t for t, _ in row] for row in result.trace.nearest_tokens]
    assert back.trace.comparison.rms_ratio == pytest.approx(result.trace.comparison.rms_ratio, rel=1e-4)
    assert back.trace.comparison.histogram.counts == result.trace.comparison.histogram.counts
    assert back.token_texts == result.token_texts


def test_training_snapshots_step_zero_then_every_n_steps_and_a_resumed_stage_redoes_its_own(tmp_path):
    torch.manual_seed(0)
    model = tiny_pipeline()
    data = examples(model, 8)
    log = loop.LossLog(tmp_path / "loss.jsonl")
    history = recorder(model, tmp_path, every=10)
    history.start({"how": "fresh"})
    before = model.transcribe(speechlike(1.5, seed=1), beams=1)
    train.train_align(model, data, data[:2], tmp_path, _stage("align", 25, 3e-3), log, progress=False, history=history)
    path = tmp_path / "history.jsonl"
    assert snapshot_keys(path) == [(tmp_path.name, "align", s) for s in (0, 10, 20, 25)]
    loaded = load_history(tmp_path)
    assert [p.name for p in loaded.probes] == ["speech", "other"] and loaded.reference("other") == "a dog ran"
    first = loaded.snapshots[0].results["speech"]
    assert first.stages[-2].rms == pytest.approx(before.stages[-2].rms, rel=1e-4)  # step 0: before any update
    assert loaded.snapshots[-1].results["speech"].stages[-2].rms != pytest.approx(first.stages[-2].rms, rel=1e-3)
    assert [c.stage for c in loaded.losses] == ["align"] and loaded.losses[0].steps[-1] == 25
    assert not model.projector.training  # back in eval mode after the stage

    # Killed after step 25's snapshot but before a checkpoint at 20 would have been the last: the
    # stage resumes from its checkpoint and the snapshots after it are taken again, once.
    history.drop_after("align", 20)
    assert snapshot_keys(path)[-1] == (tmp_path.name, "align", 20)
    train.train_align(model, data, data[:2], tmp_path, _stage("align", 30, 3e-3), log, progress=False, history=history)
    assert [k[2] for k in snapshot_keys(path)] == [0, 10, 20, 30]


def test_a_warm_start_carries_its_predecessors_history_and_says_where_it_joined(tmp_path):
    model = tiny_pipeline()
    first = recorder(model, tmp_path / "first")
    first.start({"how": "fresh"})
    first.record("align", 0)
    second = recorder(model, tmp_path / "second")
    second.start({"how": "warm from first"}, tmp_path / "first")
    second.record("lm", 0)
    loaded = load_history(tmp_path / "second")
    assert [(s.run, s.stage, s.step) for s in loaded.snapshots] == [("first", "align", 0), ("second", "lm", 0)]
    assert [(j["run"], j["how"]) for j in loaded.joins] == [("first", "fresh"), ("second", "warm from first")]
    third = recorder(model, tmp_path / "third")
    third.start({"how": "warm from assets"}, tmp_path / "nowhere")
    assert "kept no training history" in load_history(tmp_path / "third").joins[-1]["note"]


def test_a_missing_history_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no history.jsonl"):
        load_history(tmp_path)


def test_the_history_command_tables_each_snapshot_and_its_json_has_one_entry_per_step(tmp_path, capsys):
    from tiny_audio.cli import main

    model = tiny_pipeline()
    history = recorder(model, tmp_path / "run")
    history.start({"how": "fresh"})
    history.record("init", 0)
    history.record("lm", 100)
    assert main(["history", str(tmp_path / "run")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["run", "stage", "step", "WER"]
    assert [line.split()[1:3] for line in table[2:4]] == [["init", "0"], ["lm", "100"]]
    assert "run: fresh" in table[-1]
    assert main(["history", str(tmp_path / "run"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(s["stage"], s["step"]) for s in data["steps"]] == [("init", 0), ("lm", 100)]
    speech = data["steps"][0]["probes"]["speech"]
    transcript = model.transcribe(speechlike(1.5, seed=1), beams=1).text  # the same weights, still untrained
    assert speech["text"] == transcript and "post-norm" in speech["stages"]
    assert main(["history", str(tmp_path / "nothing")]) == 1
    assert "no such history" in capsys.readouterr().err
