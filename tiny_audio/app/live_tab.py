"""The app's "Live" tab: the browser microphone streamed into a ``LiveSession``.

The browser sends a chunk about every 0.1 s, and Gradio keeps only the newest chunk while the
stream handler is busy, so the handler only appends the chunk to the session and returns. The
model runs in a worker process of its own at a lower CPU priority (live/worker.py), one per model,
shared by all visitors and started with the app for the default model: the server keeps the CPU
it needs to take every chunk. Two timers redraw the page from the newest finished update: the
transcript and status four times a second, the plots once a second (built in the worker: a
figure built in the server holds it up long enough to lose a chunk). Stopping the recording decodes the uncommitted tail once more.

Every chunk goes through Transcribe's checks: the model must be one this server offers (public
mode), the chunk's sample rate one audio is recorded at, and its audio is charged to the visitor's
budget (public mode), so a live recording and uploads draw on the same seconds.
"""

from __future__ import annotations

from typing import Optional

import gradio as gr
import numpy as np
from gradio.components.plot import PlotData

from tiny_audio.app.run import refuse
from tiny_audio.app.serving import ClientQuota, QuotaExceeded, client_id
from tiny_audio.app.store import DEFAULT_MODEL
from tiny_audio.live.display import GREEDY_PIECES, final_run_words
from tiny_audio.live.streaming import LiveSession, LiveUpdate
from tiny_audio.live.worker import shared_runner
from tiny_audio.pipeline.audio import AudioError, check_rate
from tiny_audio.report import plots

STREAM_EVERY_S = 0.1  # what Gradio 6's microphone sends anyway
TEXT_REFRESH_S = 0.25
PLOT_REFRESH_S = 1.0
TIME_LIMIT_S = 30 * 60  # one recording may stream this long
WINDOW_SECONDS = 20.0

LIVE_HELP = """Press record and speak, for as long as you like. Whenever the model is free it transcribes the
speech heard since the last pause again; the part two runs agreed on is kept, so each update only decodes a
few new tokens. At each pause the text up to it is committed for good, and the next piece starts there.
Stop the recording to decode the last uncommitted words once more. Browsers allow the microphone only on
https or localhost."""

NO_OUTPUT = gr.skip()


class LiveView:
    """One browser session's live state: the engine, and what the page last showed."""

    def __init__(self, session: LiveSession):
        self.session = session
        self.shown_text: Optional[LiveUpdate] = None
        self.shown_plots: Optional[LiveUpdate] = None
        self.error_shown = False


def _status(view: LiveView, update: Optional[LiveUpdate]) -> str:
    session = view.session
    heard = f"{session.heard_seconds:.1f} s heard"
    if update is None:
        waiting = "waiting for speech" if session.runner.ready else "the model is starting in its worker process"
        return f"listening… {heard}, {waiting}"
    notice = f"⚠️ {update.result.notice}\n\n" if update.result.notice else ""
    committed = f"{session.committed_seconds:.1f} s committed"
    if update.final:
        return notice + f"{final_run_words(update)} · {heard}, {committed}"
    precision = f" · run in {session.runner.updates_precision}" if session.runner.updates_precision else ""
    if session.greedy_commits:
        precision += f" · {GREEDY_PIECES}"
    return notice + (
        f"update {session.model_runs} · {update.buffer_seconds:.1f} s in the window ({heard}, {committed}) · "
        f"latency {1000 * update.latency_s:.0f} ms · {update.agreed_tokens} tokens agreed{precision}"
    )


def _figures(update: LiveUpdate):
    return plots.stage_histograms(update.result), plots.projector_vs_llm(update.result)


def _figures_from_runner(view: LiveView, update: LiveUpdate):
    """While recording: the figures built by the runner (the worker process, away from the server,
    which must keep taking chunks), each handed to the page as it is."""
    return tuple(PlotData(type="plotly", plot=figure) for figure in view.session.runner.figures(update.result))


def start_worker(store, spec: str):
    """The worker process for ``spec`` (started now if it is not running); a name this server
    does not offer is refused here, before any process starts."""
    spec = (spec or DEFAULT_MODEL).strip()
    store.resolve(spec)
    return shared_runner(store.loader, spec, pinned=DEFAULT_MODEL)


def on_start():
    """Record was pressed: say so at once, and start the timers."""
    return "recording… waiting for the microphone's first audio", gr.Timer(active=True), gr.Timer(active=True)


def on_chunk(store, model_spec: str, chunk, view: Optional[LiveView], quota: Optional[ClientQuota] = None,
             client: str = "local") -> Optional[LiveView]:
    """A streamed chunk ``(rate, samples)``: check it, charge it to ``client``'s budget (public
    mode), append it and return at once. A refusal is a ``gr.Error`` for the person."""
    if chunk is None:
        return view
    if view is None:
        try:
            store.resolve((model_spec or DEFAULT_MODEL).strip())  # before any audio is charged
        except ValueError as error:  # refused, or a malformed name: the visitor's own words
            raise refuse(str(error).splitlines()[0], scrub=False) from None
    rate, samples = chunk
    try:
        rate = check_rate(rate)  # a forged rate would make the runs resample without bound
    except AudioError as error:
        raise refuse(str(error)) from None
    if quota is not None:
        # A chunk is charged at least what the browser sends each time: countless empty chunks
        # cannot grow the visitor's record of charges.
        seconds = max(np.shape(samples), default=0) / rate
        try:
            quota.charge(client, max(seconds, STREAM_EVERY_S))
        except QuotaExceeded as error:
            raise refuse(str(error), "over quota") from None
    if view is None:
        view = LiveView(LiveSession(start_worker(store, model_spec), max_seconds=WINDOW_SECONDS))
    view.session.feed(samples, rate)
    return view


def on_text_tick(view: Optional[LiveView]):
    """The fast timer: the transcript and status; on a failure, say why once and stop both timers."""
    if view is None:
        return NO_OUTPUT, NO_OUTPUT, NO_OUTPUT, NO_OUTPUT
    if view.session.error:
        if view.error_shown:
            return NO_OUTPUT, NO_OUTPUT, gr.Timer(active=False), gr.Timer(active=False)
        view.error_shown = True
        message = f"Live transcription stopped: {view.session.error}"
        gr.Warning(message)
        return NO_OUTPUT, f"⚠️ {message}", gr.Timer(active=False), gr.Timer(active=False)
    update = view.session.latest()
    if update is None or update is view.shown_text:
        return NO_OUTPUT, _status(view, update), NO_OUTPUT, NO_OUTPUT
    view.shown_text = update
    return update.text, _status(view, update), NO_OUTPUT, NO_OUTPUT


def on_plot_tick(view: Optional[LiveView]):
    """The slow timer: the plots of the newest update, when they have not been drawn yet."""
    update = view.session.latest() if view is not None else None
    if update is None or update is view.shown_plots:
        return NO_OUTPUT, NO_OUTPUT
    view.shown_plots = update
    try:
        return _figures_from_runner(view, update)
    except Exception:  # the worker stopped: the text tick says so; the plots wait
        return NO_OUTPUT, NO_OUTPUT


def on_stop(view: Optional[LiveView]):
    """The recording ended: decode the uncommitted tail, show the transcript, then the figures, and
    forget the session."""
    stopped = [gr.Timer(active=False), gr.Timer(active=False)]
    if view is None:
        yield [NO_OUTPUT] * 4 + [None] + stopped
        return
    try:
        update = view.session.finish()
    except Exception as error:  # the final run failed: say why, do not leave a bare "Error"
        raise gr.Error(f"The final run failed: {str(error).strip().splitlines()[0]}") from None
    if update is None:
        yield ["", "nothing but silence was heard", NO_OUTPUT, NO_OUTPUT, None] + stopped
        return
    yield [update.text, _status(view, update), NO_OUTPUT, NO_OUTPUT, NO_OUTPUT] + stopped
    stages, overlay = _figures(update)
    yield [NO_OUTPUT, NO_OUTPUT, stages, overlay, None, NO_OUTPUT, NO_OUTPUT]


def _close(view: Optional[LiveView]) -> None:
    """Gradio forgets a closed tab's state (an hour later): tell its worker thread to stop, without
    waiting for it on the server's event loop. An idle session stops by itself after 2 minutes."""
    if view is not None:
        view.session.close(wait=False)


def build_live_tab(store, model_box, quota: Optional[ClientQuota] = None) -> None:
    """Add the Live tab to the Blocks being built; ``model_box`` names the model to use, ``quota``
    bounds each visitor's audio (public mode)."""
    if store.is_loaded(DEFAULT_MODEL):
        start_worker(store, DEFAULT_MODEL)  # it loads while the page is still being opened
    with gr.Tab("Live"):
        gr.Markdown(LIVE_HELP)
        # A separate component: attaching .stream turns an Audio into a streaming microphone.
        mic = gr.Audio(sources=["microphone"], type="numpy", label="Live microphone", elem_id="live-mic")
        status = gr.Markdown(elem_id="live-status")
        transcript = gr.Textbox(label="Transcript", lines=4, interactive=False, elem_id="live-transcript")
        stages = gr.Plot(show_label=False, elem_id="live-stages")
        overlay = gr.Plot(show_label=False, elem_id="live-overlay")
        view = gr.State(None, delete_callback=_close)
        text_timer = gr.Timer(TEXT_REFRESH_S, active=False)
        plot_timer = gr.Timer(PLOT_REFRESH_S, active=False)
        timers = [text_timer, plot_timer]
        quiet = dict(api_visibility="private", show_progress="hidden")  # no spinner or clock in the status
        mic.start_recording(on_start, None, [status] + timers, **quiet)

        def on_stream(spec, chunk, current, request: gr.Request = None):
            return on_chunk(store, spec, chunk, current, quota, client_id(request))

        mic.stream(
            on_stream,
            [model_box, mic, view],
            view,
            stream_every=STREAM_EVERY_S,
            time_limit=TIME_LIMIT_S,
            concurrency_limit=8,  # cheap: the model runs in the worker process
            **quiet,
        )
        text_timer.tick(on_text_tick, view, [transcript, status] + timers, concurrency_limit=8, **quiet)
        plot_timer.tick(on_plot_tick, view, [stages, overlay], concurrency_limit=2, **quiet)
        mic.stop_recording(on_stop, view, [transcript, status, stages, overlay, view] + timers,
                           api_visibility="private", show_progress_on=[transcript])
