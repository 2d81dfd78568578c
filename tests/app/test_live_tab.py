"""The Live tab's handlers, called as Gradio calls them: chunks in, timers out, stop."""

import json
import time

import gradio as gr
import numpy as np
import pytest
from tiny_models import speechlike, tiny_app_model

from tiny_audio.app import live_tab
from tiny_audio.app.serving import ClientQuota
from tiny_audio.app.store import ModelStore
from tiny_audio.live.runner import ModelRunner
from tiny_audio.live.streaming import LiveSession
from tiny_audio.report import plots

SKIP = type(gr.skip())


def is_timer_stop(value) -> bool:
    return isinstance(value, gr.Timer) and value.active is False


def test_record_shows_a_status_at_once_and_starts_the_timers():
    status, text_timer, plot_timer = live_tab.on_start()
    assert status.startswith("recording")
    assert text_timer.active is True and plot_timer.active is True


def test_live_tab_handlers_stream_then_finish_with_everything_committed():
    store = ModelStore(loader=tiny_app_model)
    pcm = (speechlike(2.0, rate=48_000) * 32767).astype(np.int16)
    view = None
    assert all(isinstance(out, SKIP) for out in live_tab.on_text_tick(view))  # nothing yet, no error
    assert all(isinstance(out, SKIP) for out in live_tab.on_plot_tick(view))
    for start in range(0, pcm.size, 4_800):  # 0.1 s chunks, as Gradio's microphone streams them
        view = live_tab.on_chunk(store, "tiny", (48_000, pcm[start:start + 4_800]), view)
    text, status, *timers = live_tab.on_text_tick(view)
    assert "heard" in status  # before the first run, the page already says what it has received
    deadline = time.time() + 600  # the worker process loads the model first
    while view.session.latest() is None and time.time() < deadline:
        time.sleep(0.1)
    text, status, *timers = live_tab.on_text_tick(view)
    assert text == view.session.latest().text and "latency" in status
    assert all(isinstance(t, SKIP) for t in timers)  # the timers keep running
    stages, overlay = live_tab.on_plot_tick(view)  # built in the worker, handed on as Plotly JSON
    shown = view.session.latest().result
    assert json.loads(stages.plot)["data"][0]["name"] == shown.stages[0].name and stages.type == "plotly"
    assert json.loads(overlay.plot)["layout"] == json.loads(plots.projector_vs_llm(shown).to_json())["layout"]
    assert all(isinstance(out, SKIP) for out in live_tab.on_plot_tick(view))  # drawn once per update
    first, then = live_tab.on_stop(view)  # the transcript at once, the figures after it
    text, status, stages, overlay, state, *timers = first
    assert "final run" in status and all(is_timer_stop(t) for t in timers)
    assert all(isinstance(out, SKIP) for out in (stages, overlay, state))
    assert text == view.session.committed_text and view.session.committed_seconds == pytest.approx(2.0)
    *_, stages, overlay, state, _, _ = then
    assert state is None and json.loads(stages.to_json())["data"] and json.loads(overlay.to_json())["data"]


class FailingRunner:
    max_seconds, ready, updates_precision = 30.0, True, "float32"

    def update(self, *args, **kwargs):
        raise RuntimeError("out of memory")

    complete = update

    def close(self):
        pass


def test_a_failed_run_is_reported_once_and_the_timers_stop():
    view = live_tab.LiveView(LiveSession(FailingRunner()))
    view.session.feed(speechlike(1.5), 16_000)
    view.session._worker.join(timeout=10)
    with pytest.warns(UserWarning, match="Live transcription stopped: out of memory"):
        text, status, *timers = live_tab.on_text_tick(view)
    assert "out of memory" in status and all(is_timer_stop(t) for t in timers)
    again = live_tab.on_text_tick(view)  # the next tick, if one was already on its way: no second message
    assert all(isinstance(out, SKIP) for out in again[:2]) and all(is_timer_stop(t) for t in again[2:])


def silence(seconds: float, rate: int = 48_000) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.int16)


def test_live_chunks_go_through_transcribes_checks():
    """Public mode: a model this server does not offer is refused before any audio is charged or
    any worker starts; a forged sample rate is refused; the audio is charged to the visitor's
    budget, and another visitor is not held back."""
    store = ModelStore(loader=tiny_app_model, pinned="tiny", allowed=["tiny"])
    quota = ClientQuota(seconds=1.0, window_s=600)
    for name in ("/etc", "../../", "owner/unlisted"):
        with pytest.raises(gr.Error, match="is not offered on this server"):
            live_tab.on_chunk(store, name, (48_000, silence(0.1)), None, quota, "a")
    view = live_tab.LiveView(LiveSession(ModelRunner(store.get("tiny"))))
    try:
        for rate in (1, 0, 50_000_017, "48000; rm", float("nan")):
            with pytest.raises(gr.Error, match="sample rate"):
                live_tab.on_chunk(store, "tiny", (rate, silence(0.1)), view, quota, "a")
        for _ in range(10):  # the whole budget, in the browser's 0.1 s chunks
            assert live_tab.on_chunk(store, "tiny", (48_000, silence(0.1)), view, quota, "a") is view
        assert view.session.heard_seconds == pytest.approx(1.0)
        with pytest.raises(gr.Error, match="at most 1 s of audio per visitor"):
            live_tab.on_chunk(store, "tiny", (48_000, silence(0.1)), view, quota, "a")
        assert view.session.heard_seconds == pytest.approx(1.0)  # the refused chunk was not fed
        live_tab.on_chunk(store, "tiny", (48_000, silence(0.5)), view, quota, "b")
    finally:
        view.session.close()


def test_tiny_chunks_are_charged_what_the_browser_sends():
    store = ModelStore(loader=tiny_app_model, pinned="tiny", allowed=["tiny"])
    quota = ClientQuota(seconds=1.0, window_s=600)
    view = live_tab.LiveView(LiveSession(ModelRunner(store.get("tiny"))))
    try:
        for _ in range(10):
            live_tab.on_chunk(store, "tiny", (48_000, silence(0.0001)), view, quota, "a")
        with pytest.raises(gr.Error, match="at most 1 s of audio per visitor"):
            live_tab.on_chunk(store, "tiny", (48_000, silence(0.0001)), view, quota, "a")
    finally:
        view.session.close()
