"""The Gradio app: handlers called directly, then the app served on localhost and driven with gradio_client."""

import json

import gradio as gr
import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_models import speechlike, tiny_app_model

from tiny_audio.report import plots
from tiny_audio.app.blocks import build_demo
from tiny_audio.app.run import load, transcribe
from tiny_audio.app.store import ModelStore
from tiny_audio.app.views import OUTPUTS, result_views, words_view
from tiny_audio.pipeline.baseline import projector_baseline


@pytest.fixture(scope="module")
def store():
    return ModelStore(loader=tiny_app_model)


@pytest.fixture
def speech(tmp_path):
    path = tmp_path / "speech.wav"
    sf.write(path, speechlike(2.0), 16_000)
    return str(path)


def test_transcribe_and_render_give_every_output(store, speech):
    model, samples, result, _ = transcribe(store, speech, "tiny")
    shown = result_views(samples, result, log_y=True, shared_range=True)
    assert set(shown) == set(OUTPUTS)
    assert shown["transcript"] == result.text
    assert "Untrained projector" in shown["notice"]
    assert "encoder" in shown["info"] and "decode" in shown["info"]
    data = json.loads(open(shown["download"]).read())
    assert [s["name"] for s in data["trace"]["stages"]] == [s.name for s in result.stages]


def test_the_verdict_sets_the_projector_beside_an_untrained_one_on_the_same_frames(store, speech):
    model, samples, result, _ = transcribe(store, speech, "tiny")
    baseline = projector_baseline(model, samples)
    again = projector_baseline(model, samples)
    # Seeded: the same untrained projector, so the same numbers, every time.
    assert again.untrained.comparison.rms_ratio == baseline.untrained.comparison.rms_ratio
    # The trained side is the run's own projector on the run's own frames: the trace's comparison.
    assert baseline.trained.comparison.rms_ratio == pytest.approx(result.trace.comparison.rms_ratio, rel=1e-4)
    assert len(baseline.trained.dims.mean) == len(baseline.embeddings.mean) == model.projector.output_dim
    shown = result_views(samples, result, log_y=False, shared_range=False, baseline=baseline)
    assert "untrained (seed 0)" in shown["gap"] and "untrained:" in shown["verdict"]
    assert shown["agreement"].data, "the per-dimension figure has no points"


def test_a_press_shows_each_step_as_it_starts_and_keeps_the_frames_for_the_baseline(store, speech):
    said = []
    model, samples, result, frames = transcribe(store, speech, "tiny",
                                                progress=lambda fraction, desc="": said.append((fraction, desc)))
    steps = [desc.split(":")[0] for _, desc in said if not desc.startswith("Loading")]
    assert steps == ["Encoding", "Projecting", "Decoding"]
    assert [fraction for fraction, _ in said] == sorted(fraction for fraction, _ in said)  # never backwards
    assert torch.equal(frames, model.encode(samples))  # the run's own frames: no second encoder pass
    kept, again = projector_baseline(model, samples, frames=frames), projector_baseline(model, samples)
    assert kept.trained.comparison.rms_ratio == again.trained.comparison.rms_ratio
    assert kept.untrained.comparison.rms_ratio == again.untrained.comparison.rms_ratio


def test_example_clips_show_their_word_error_rate_and_diff():
    shown = words_view("the quick brown fox", "the quick frown fox")
    assert "Word error rate 25%" in shown and "~~brown~~ **frown**" in shown
    assert words_view("", "anything") == "" and words_view("the fox", "") == ""


def test_one_full_update_stays_under_60_kb(store, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, speechlike(29.0), 16_000)
    model, samples, result, _ = transcribe(store, str(path), "tiny")
    shown = result_views(samples, result, log_y=False, shared_range=False, baseline=projector_baseline(model, samples))
    figures = [value for value in shown.values() if hasattr(value, "to_json")]
    assert len(figures) == 7
    assert plots.figure_payload_bytes(figures) <= 60_000


def write_48k_stereo(path):
    t = np.arange(48_000 * 2) / 48_000
    left = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    sf.write(path, np.stack([left, left // 2], axis=1), 48_000, subtype="PCM_16")


@pytest.mark.parametrize(
    "make, message",
    [
        (None, "Record or upload"),
        (lambda p: sf.write(p, np.zeros(16_000, dtype=np.float32), 16_000), "silent"),
        (lambda p: sf.write(p, np.zeros(8_000 * 600, dtype=np.int16), 8_000, subtype="PCM_16"), "600.0 s long"),
        (lambda p: p.write_text("shopping list: eggs, milk\n" * 50), "not a readable audio file"),
    ],
)
def test_bad_input_is_a_clear_message_and_the_app_keeps_serving(store, speech, tmp_path, make, message):
    path = None
    if make:
        path = tmp_path / "input.wav"
        make(path)
        path = str(path)
    with pytest.raises(gr.Error, match=message):
        transcribe(store, path, "tiny")
    _, _, result, _ = transcribe(store, speech, "tiny")  # the next request is served in full
    assert result.token_ids and result.stages and result.trace.comparison is not None


def test_48khz_stereo_recording_is_accepted(store, tmp_path):
    path = tmp_path / "stereo48k.wav"
    write_48k_stereo(path)
    _, samples, result, _ = transcribe(store, str(path), "tiny")
    assert samples.size == 32_000 and result.duration_s == pytest.approx(2.0)


def test_unknown_model_is_a_clear_message(store, speech):
    with pytest.raises(gr.Error, match="Could not load model 'nope'"):
        transcribe(store, speech, "nope")
    # What the person typed wrong, in words, not the Hub library's rules (the real loader; it fails
    # before any download).
    with pytest.raises(gr.Error, match="neither a Hub model id .* nor a checkpoint directory"):
        load(ModelStore(), "not a model!!")


def test_served_app_with_gradio_client(store, speech, tmp_path):
    from gradio_client import Client, handle_file

    demo = build_demo(store)
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        outputs = client.predict(handle_file(speech), "tiny", False, False, api_name="/transcribe")
        shown = dict(zip(OUTPUTS, outputs))
        assert isinstance(shown["transcript"], str)
        for name in ("stages", "overlay", "norms", "dims", "tokens"):
            assert "plot" in json.dumps(shown[name]), name
        silent = tmp_path / "silent.wav"
        sf.write(silent, np.zeros(16_000, dtype=np.float32), 16_000)
        with pytest.raises(Exception, match="silent"):
            client.predict(handle_file(str(silent)), "tiny", False, False, api_name="/transcribe")
        again = client.predict(handle_file(speech), "tiny", False, False, api_name="/transcribe")
        assert again[0] == shown["transcript"]
        assert "(greedy)" in shown["info"]  # the tiny model's own default
        beam = dict(zip(OUTPUTS, client.predict(handle_file(speech), "tiny", False, False, "beam search, 4 beams",
                                                api_name="/transcribe")))
        assert "(beam search, 4 beams)" in beam["info"]
    finally:
        demo.close()


def test_explore_handlers_on_the_latest_clip(store, speech):
    from tiny_audio.app import explore_tab as ui_explore

    model, samples, result, _ = transcribe(store, speech, "tiny")
    run = ui_explore.LastRun("tiny", samples, result)
    note, rows = ui_explore.rates_table(store, run, 4)
    assert "AudioProjector (k=5, pad)" in note
    assert [r[0] for r in rows] == ["2", "3", "5", "8", "10", "4 (custom)"]
    encoder_frames = result.stages[0].shape[1]
    assert all(r[1] == str(encoder_frames) for r in rows)
    k5 = next(r for r in rows if r[0] == "5")
    assert k5[2] == str(result.stages[1].shape[1])  # the table's k=5 row is what the traced model did
    figure, table = ui_explore.activations(store, run)
    assert [r[0] for r in table][-4:] == ["GLU", "ReGLU", "GeGLU", "SwiGLU"]
    assert len(figure.data) == 8
    assert len(ui_explore.grid(run).data) == 6
    configs = ui_explore.configs_table(run, [])
    assert configs[0][5] == "121,643,264" and configs[1][6].endswith("✗ wrong")
    with pytest.raises(gr.Error, match="Transcribe a clip first"):
        ui_explore.activations(store, None)
    note, rows = ui_explore.rates_table(store, None, None)
    assert "course" in note and rows[2][2] == "30"  # 149 frames at k=5 → 30 tokens


def test_model_store_keeps_the_default_and_evicts_the_least_recently_used():
    loads = []

    def loader(spec):
        loads.append(spec)
        if spec == "broken":
            raise ValueError("no such model")
        return f"model:{spec}"

    store = ModelStore(loader=loader, capacity=2, pinned="nano")
    assert store.get("nano") == "model:nano" and store.get("nano") == "model:nano"
    store.get("a")
    store.get("b")  # over capacity: "a" goes, the pinned default stays
    assert store.is_loaded("nano") and store.is_loaded("b") and not store.is_loaded("a")
    store.get("a")
    assert loads == ["nano", "a", "b", "a"]
    with pytest.raises(ValueError):
        store.get("broken")
    assert not store.is_loaded("broken") and store.is_loaded("nano")

    # With room for one, a new model replaces the last one but not the default (nor itself).
    single = ModelStore(loader=loader, capacity=1, pinned="nano")
    single.get("nano")
    assert single.get("x") == "model:x" and single.is_loaded("x") and single.is_loaded("nano")
    single.get("y")
    assert single.is_loaded("y") and not single.is_loaded("x")


def test_model_store_answers_for_a_loaded_model_while_another_loads():
    import threading

    release = threading.Event()
    started = threading.Event()

    def loader(spec):
        if spec == "slow":
            started.set()
            release.wait(10)
        return spec

    store = ModelStore(loader=loader, pinned="nano")
    store.get("nano")
    slow = threading.Thread(target=store.get, args=("slow",))
    slow.start()
    assert started.wait(5)
    assert store.get("nano") == "nano" and not release.is_set()  # not blocked behind the slow load
    release.set()
    slow.join(5)
    assert store.is_loaded("slow")


def test_download_files_do_not_pile_up(store, speech, monkeypatch, tmp_path):
    from tiny_audio.app import views as ui

    monkeypatch.setattr(ui, "DOWNLOADS", tmp_path / "downloads")
    monkeypatch.setattr(ui, "KEEP_DOWNLOADS", 3)
    _, _, result, _ = transcribe(store, speech, "tiny")
    paths = [ui.write_json(result) for _ in range(5)]
    kept = sorted(str(p) for p in (tmp_path / "downloads").glob("*/projector_lab_trace.json"))
    assert kept == sorted(paths[-3:])  # the newest three, however close together they were written
    assert json.loads(open(paths[-1]).read())["text"] == result.text
