"""The app's "Live" tab: the browser microphone streamed into a ``LiveSession``.

The browser sends a chunk about every 0.1 s; the stream handler only appends it to the
session's rolling buffer and returns at once. Gradio keeps only the newest chunk while a handler
is busy, so any work in it would drop audio. The model runs in the session's worker thread on
the newest audio (see streaming.py), and a timer redraws the page once a second from the newest
finished update. Stopping the recording runs the model once more on the whole window.
"""

from __future__ import annotations

from typing import Optional

import gradio as gr

from tiny_audio.app.store import DEFAULT_MODEL
from tiny_audio.live.streaming import LiveSession, LiveUpdate
from tiny_audio.report import plots

STREAM_EVERY_S = 0.1  # what Gradio 6's microphone sends anyway
REFRESH_S = 1.0
TIME_LIMIT_S = 120
BUFFER_SECONDS = 20.0

LIVE_HELP = f"""Press record and speak. Whenever the model is free it transcribes the audio heard so far
(the last {BUFFER_SECONDS:.0f} s) again, and the page follows once a second; the part of the transcript that two
runs agreed on is kept, so each update only decodes a few new tokens. Stop the recording for one final
full run on the last {BUFFER_SECONDS:.0f} s. Browsers allow the microphone only on https or localhost."""


class LiveView:
    """One browser session's live state: the engine, and which update the page last showed."""

    def __init__(self, session: LiveSession):
        self.session = session
        self.shown: Optional[LiveUpdate] = None


def _status(view: LiveView, update: Optional[LiveUpdate]) -> str:
    heard = view.session.heard_seconds
    if update is None:
        return f"listening… {heard:.1f} s heard, waiting for speech"
    kind = "final full run" if update.final else f"update {view.session.model_runs}"
    notice = f"⚠️ {update.result.notice}\n\n" if update.result.notice else ""
    precision = ""
    if not update.final and view.session.updates_model is not view.session.model:  # the faster copy
        precision = f" · run in {str(view.session.updates_model.dtype).removeprefix('torch.')}"
    return notice + (
        f"{kind} · {update.buffer_seconds:.1f} s in the window ({heard:.1f} s heard) · "
        f"latency {1000 * update.latency_s:.0f} ms · {update.committed_tokens} tokens settled{precision}"
    )


def _figures(update: LiveUpdate):
    return plots.stage_histograms(update.result), plots.projector_vs_llm(update.result)


def on_chunk(store, model_spec: str, chunk, view: Optional[LiveView]) -> Optional[LiveView]:
    """A streamed chunk ``(rate, samples)``: append it and return at once."""
    if chunk is None:
        return view
    if view is None:
        try:
            model = store.get((model_spec or DEFAULT_MODEL).strip())
        except Exception as error:
            raise gr.Error(f"Could not load model '{model_spec}': {str(error).splitlines()[0]}") from None
        view = LiveView(LiveSession(model, max_seconds=BUFFER_SECONDS))
    rate, samples = chunk
    view.session.feed(samples, rate)
    return view


def on_tick(view: Optional[LiveView]):
    """The timer: show the newest finished update, if there is one the page has not shown."""
    if view is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    if view.session.error:
        raise gr.Error(f"Live transcription stopped: {view.session.error}")
    update = view.session.latest()
    if update is None or update is view.shown:
        return gr.skip(), _status(view, update), gr.skip(), gr.skip()
    view.shown = update
    stages, overlay = _figures(update)
    return update.text, _status(view, update), stages, overlay


def on_stop(view: Optional[LiveView]):
    """The recording ended: one full run on the buffer, then forget the session."""
    stopped = gr.Timer(active=False)
    if view is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), None, stopped
    try:
        update = view.session.finish()
    except Exception as error:  # the final run failed: say why, do not leave a bare "Error"
        raise gr.Error(f"The final run failed: {str(error).strip().splitlines()[0]}") from None
    if update is None:
        return "", "nothing but silence was heard", gr.skip(), gr.skip(), None, stopped
    stages, overlay = _figures(update)
    return update.text, _status(view, update), stages, overlay, None, stopped


def _close(view: Optional[LiveView]) -> None:
    """Gradio forgets a closed tab's state (an hour later): tell its worker to stop, without
    waiting for it on the server's event loop. An idle worker stops by itself after 2 minutes."""
    if view is not None:
        view.session.close(wait=False)


def build_live_tab(store, model_box) -> None:
    """Add the Live tab to the Blocks being built; ``model_box`` names the model to use."""
    with gr.Tab("Live"):
        gr.Markdown(LIVE_HELP)
        # A separate component: attaching .stream turns an Audio into a streaming microphone.
        mic = gr.Audio(sources=["microphone"], type="numpy", label="Live microphone", elem_id="live-mic")
        status = gr.Markdown(elem_id="live-status")
        transcript = gr.Textbox(label="Transcript so far", lines=3, interactive=False, elem_id="live-transcript")
        stages = gr.Plot(show_label=False, elem_id="live-stages")
        overlay = gr.Plot(show_label=False, elem_id="live-overlay")
        view = gr.State(None, delete_callback=_close)
        timer = gr.Timer(REFRESH_S, active=False)
        shown = [transcript, status, stages, overlay]
        mic.start_recording(lambda: gr.Timer(active=True), None, timer, api_visibility="private")
        mic.stream(
            lambda spec, chunk, current: on_chunk(store, spec, chunk, current),
            [model_box, mic, view],
            view,
            stream_every=STREAM_EVERY_S,
            time_limit=TIME_LIMIT_S,
            concurrency_limit=8,  # cheap: the model runs in each session's worker thread
            api_visibility="private",
        )
        timer.tick(on_tick, view, shown, api_visibility="private")
        mic.stop_recording(on_stop, view, shown + [view, timer], api_visibility="private")
