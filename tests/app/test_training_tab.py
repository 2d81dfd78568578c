"""The Training tab's views of one snapshot: the transcript against its reference with a word diff,
and the Transcribe page's own figures drawn from the snapshot's results."""

from tiny_models import speechlike, tiny_pipeline

from tiny_audio.app.training_tab import journey_text, snapshot_views, word_diff
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
    assert "warm from somewhere — somewhere kept no training history" in journey_text(history)
