"""The Training tab's views of one snapshot: the transcript against its reference with a word diff,
and the Transcribe page's own figures drawn from the snapshot's results."""

import math

import pytest
from tiny_models import speechlike, tiny_pipeline

from tiny_audio.app.examples import EXAMPLES_DIR

from tiny_audio.app.training_tab import journey_text, snapshot_views, word_diff
from tiny_audio.loading.nano import load_nano
from tiny_audio.pipeline.history import Probe, load_history
from tiny_audio.training.history import HistoryRecorder


def test_a_word_diff_strikes_missed_words_and_bolds_the_ones_heard_instead():
    assert word_diff("the quick brown fox", "the quick frown fox jumps") == "the quick ~~brown~~ **frown** fox **jumps**"
    assert word_diff("a b c", "a c") == "a ~~b~~ c"


def test_each_snapshot_shows_its_step_transcript_and_the_pages_figures(tmp_path):
    model = tiny_pipeline()
    recorder = HistoryRecorder(model, [(Probe("speech", "the cat sat", "test clip", 1.5), speechlike(1.5))], tmp_path)
    recorder.start({"how": "warm from somewhere", "note": "somewhere kept no training history"})
    recorder.record("init", 0)
    recorder.record("lm", 200)
    history = load_history(tmp_path)
    header, words, loss, story, overlay, stages, tokens = snapshot_views(history, 1, "speech")
    assert header.startswith(f"### {tmp_path.name}: lm step 200") and "`speech` (test clip)" in header
    assert "**Reference:** the cat sat" in words and "**Difference:**" in words
    assert "carries no loss log" in loss.layout.annotations[0].text  # none beside this history: it says so
    assert [t.name for t in story.data] == ["RMS", "σ (spread)", "max |x|"]
    assert list(story.data[0].x) == [s.name for s in history.snapshots[1].results["speech"].stages][:-1]
    assert overlay.data and stages.data and tokens.data
    assert "started from the weights in `somewhere`, shown at its first step after the untrained one — somewhere kept no training history" in journey_text(history)


@pytest.mark.integration
def test_the_shipped_history_ends_on_what_the_app_computes_with_the_shipped_weights():
    """The Training tab's last step is the model the app serves: the same transcript and, within
    float32 noise between machines, the same numbers at every stage, on every example probe."""
    history = load_history()  # assets/nano_history.jsonl
    last = history.snapshots[-1]
    assert last.stage == "export" and history.snapshots[0].stage == "init"
    model = load_nano()  # the shipped weights, as the app loads them
    for probe, clip in example_clips_by_name().items():
        recorded, served = last.results[probe], model.transcribe(str(clip), beams=1)
        assert recorded.text == served.text and recorded.token_ids == served.token_ids
        for ours, app in zip(recorded.stages, served.stages, strict=True):
            assert ours.name == app.name
            assert (ours.mean, ours.std, ours.rms) == pytest.approx((app.mean, app.std, app.rms), rel=1e-3, abs=1e-5)
            moved = sum(abs(a - b) for a, b in zip(ours.histogram.counts, app.histogram.counts))
            assert moved <= 0.002 * sum(app.histogram.counts) + 2, f"{probe} {ours.name}: {moved} values in other bins"
        assert recorded.trace.comparison.rms_ratio == pytest.approx(served.trace.comparison.rms_ratio, rel=1e-3)
        # Step 0 is the untrained projector: far further from the LLM's scale than the shipped one.
        untrained = history.snapshots[0].results[probe].trace.comparison.rms_ratio
        assert abs(math.log(untrained)) > abs(math.log(served.trace.comparison.rms_ratio)) + 0.5


def example_clips_by_name():
    return {path.stem: path for path in sorted(EXAMPLES_DIR.glob("*.wav"))}
