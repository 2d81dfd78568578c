"""The Projector Lab page: the input column, the result views in tabs, the Live and Explore tabs."""

from __future__ import annotations

import logging
from typing import Optional

import gradio as gr

from tiny_audio.app.examples import example_clips
from tiny_audio.app.explore_tab import LastRun, build_explore_tab
from tiny_audio.app.live_tab import build_live_tab
from tiny_audio.app.page import PAGE_WIDTH_JS, Page
from tiny_audio.app.run import DECODING, DECODING_INFO, DEFAULT_DECODING, admit, decoding_choices, transcribe
from tiny_audio.app.serving import ClientQuota, ClientSlots, client_id, delete_cache
from tiny_audio.app.store import DEFAULT_MODEL, ModelStore
from tiny_audio.app.training_tab import build_training_tab
from tiny_audio.app.views import (
    DIMS_HELP,
    FIRST,
    INTRO,
    NARROW,
    NARROW_PX,
    NORMS_HELP,
    OUTPUTS,
    OVERLAY_HELP,
    STAGES_HELP,
    STORY_TITLE,
    TOKENS_HELP,
    TRACE_HELP,
    empty_views,
    in_view_figures,
    result_views,
    result_views_text,
    words_view,
)
from tiny_audio.pipeline.baseline import projector_baseline
from tiny_audio.report import plots

log = logging.getLogger("tiny_audio.app")


def build_demo(store: Optional[ModelStore] = None, quota: Optional[ClientQuota] = None,
               slots: Optional[ClientSlots] = None) -> gr.Blocks:
    """The page. A store with an allowlist (public mode) offers only its models (another name typed
    in is refused); ``quota`` bounds each visitor's audio, ``slots`` their presses waiting or
    running at once."""
    store = store or ModelStore()
    examples = example_clips()
    with Page(title="Projector Lab", delete_cache=delete_cache()) as demo:
        gr.Markdown(INTRO)
        last = gr.State(None)  # the latest Run: to redraw the histograms, and for the explorers
        width = gr.Number(visible=False)  # the page's width in px, read in the browser once it has loaded
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                # Upload first: a Record button here too would sit beside the Live tab's own.
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Speech (≤ 30 s)",
                                 elem_id="speech")
                button = gr.Button("Transcribe", variant="primary", elem_id="transcribe")
                model_box = gr.Dropdown(
                    choices=store.offered or sorted({"nano", DEFAULT_MODEL}),
                    value=DEFAULT_MODEL,
                    allow_custom_value=True,  # a name the server does not offer gets the handler's clear refusal
                    label="Model",
                    info="the models this server offers" if store.public else
                    "nano runs offline; or type a Tiny Audio checkpoint (Hub id or local directory)",
                )
                # Every choice, on the model's own default, for API clients; a page, once loaded, shows
                # its model's own choices.
                decoding = gr.Radio(choices=list(DECODING), value=DEFAULT_DECODING, label="Decoding",
                                    info=DECODING_INFO, elem_id="decoding")
                reference = gr.Textbox(label="Reference text (the example clips')", lines=1, interactive=False,
                                       elem_id="reference")
                if examples:
                    gr.Examples(examples=[list(e) for e in examples], inputs=[audio, reference], elem_id="examples",
                                label="Example clips (synthesised speech): pick one, then Transcribe")
            with gr.Column(scale=3, min_width=300):
                # The result, first thing in its column: the transcript, how it compares, the verdict, the story.
                transcript = gr.Textbox(label="Transcript", lines=2, max_lines=6, interactive=False,
                                        elem_id="transcript")
                words = gr.Markdown(elem_id="words")
                verdict = gr.Markdown(elem_id="verdict")
                # Drawn at once (an empty figure that says what comes): the browser loads Plotly with
                # the page, not when the first result arrives.
                story = gr.Plot(plots.message_figure(STORY_TITLE,
                                                     "Your clip's journey through<br>the pipeline appears here."),
                                show_label=False, elem_id="story")
                info = gr.Markdown(elem_id="info")
                notice = gr.Markdown(elem_id="notice")
        with gr.Tab("Stage histograms"):
            gr.Markdown(STAGES_HELP)
            with gr.Row():
                log_y = gr.Checkbox(label="log y", value=False)
                shared = gr.Checkbox(label="one x range for all stages (the narrow ones shrink to a spike)",
                                     value=False)
            stages = gr.Plot(show_label=False, elem_id="stages")
            stats = gr.Dataframe(label="Statistics per stage", interactive=False, wrap=False, elem_id="stats")
            download = gr.File(label="This run's statistics and histograms (JSON)", elem_id="download", height=80)
        with gr.Tab("Projector vs LLM"):
            gr.Markdown(OVERLAY_HELP)
            gap = gr.Markdown(elem_id="gap")
            agreement = gr.Plot(show_label=False, elem_id="agreement")
            overlay = gr.Plot(show_label=False, elem_id="overlay")
            gr.Markdown(NORMS_HELP)
            norms = gr.Plot(show_label=False, elem_id="norms")
        with gr.Tab("Trace"):
            gr.Markdown(TRACE_HELP)
            trace = gr.Dataframe(interactive=False, wrap=False, elem_id="trace")
        with gr.Tab("Dimensions"):
            gr.Markdown(DIMS_HELP)
            dims = gr.Plot(show_label=False, elem_id="dims")
        with gr.Tab("Nearest tokens"):
            gr.Markdown(TOKENS_HELP)
            tokens = gr.Plot(show_label=False, elem_id="tokens")
        build_live_tab(store, model_box, quota)
        build_explore_tab(store, last)
        build_training_tab(width)

        components = dict(transcript=transcript, notice=notice, info=info, stats=stats, stages=stages,
                          overlay=overlay, gap=gap, norms=norms, trace=trace, dims=dims, tokens=tokens,
                          download=download, verdict=verdict, story=story, agreement=agreement)
        outputs = [components[name] for name in OUTPUTS]

        def on_transcribe(audio_path, model_spec, log_y_value, shared_value, decoding_value=DEFAULT_DECODING,
                          request: gr.Request = None, progress=gr.Progress()):
            """The old result goes at once; the transcript comes as soon as it is ready, the figures after."""
            beams = DECODING.get(decoding_value)
            client = client_id(request)
            try:
                yield [empty_views()[name] for name in OUTPUTS] + [None]
                model, samples, result, frames = transcribe(store, audio_path, model_spec, progress, beams, quota,
                                                            client)
                first = empty_views()
                first.update({name: value for name, value in result_views_text(result).items() if name in FIRST})
                first["story"] = plots.message_figure(STORY_TITLE, "Drawing the figures…")
                yield [first[name] for name in OUTPUTS] + [None]
                progress(0.75, desc="Drawing the first figures")
                in_view = in_view_figures(result, log_y_value, shared_value)
                first.update(in_view)
                yield [first[name] for name in OUTPUTS] + [None]
                progress(0.85, desc="Untrained baseline: the same frames through a random projector")
                baseline = projector_baseline(model, samples, frames=frames)
                progress(0.95, desc="Drawing the rest")
                shown = result_views(samples, result, log_y_value, shared_value, baseline, in_view=in_view)
            finally:
                if slots is not None:  # taken by on_join
                    slots.give_back(client)
            log.info("transcribed %.1f s of audio with %s", result.duration_s, result.model_name)
            last_run = LastRun((model_spec or DEFAULT_MODEL).strip(), samples, result)
            # Everything again (an API client reads the last output alone); the browser is sent only
            # what changed, so the figures already drawn are not drawn again.
            yield [shown[name] for name in OUTPUTS] + [last_run]

        def on_join(audio_path, model_spec, log_y_value, shared_value, decoding_value=DEFAULT_DECODING,
                    request: gr.Request = None):
            """Gradio's validator: runs when a press asks to join the queue, before it is queued. A
            visitor with too many presses waiting or running is refused here (the message shows
            on the audio input), and so never takes a place in the queue."""
            refused = admit(slots, client_id(request))
            return [gr.validate(refused is None, refused or "")] + [gr.validate(True, "")] * 4

        def on_toggle(run, log_y_value, shared_value):
            if run is None:
                return gr.skip()
            return plots.stage_histograms(run.result, log_y=log_y_value, shared_range=shared_value)

        def on_narrow(run, log_y_value, shared_value, width_px):
            """On a phone, the figures whose layout depends on the width, redrawn for it."""
            if run is None or not width_px or width_px >= NARROW_PX:
                return [gr.skip()] * len(NARROW)
            shown = {"stages": plots.stage_histograms(run.result, log_y=log_y_value, shared_range=shared_value,
                                                      compact=True),
                     "tokens": plots.nearest_tokens(run.result, waveform=run.samples, compact=True)}
            return [shown[name] for name in NARROW]

        def on_clear():
            return [empty_views()[name] for name in OUTPUTS] + [None]

        def on_model(model_spec):
            choices, value = decoding_choices(model_spec)
            return gr.Radio(choices=choices, value=value)

        narrow = [components[name] for name in NARROW]
        demo.load(None, None, width, js=PAGE_WIDTH_JS)
        demo.load(on_model, model_box, decoding, api_visibility="private", show_progress="hidden")
        model_box.change(on_model, model_box, decoding, api_visibility="private", show_progress="hidden")
        # A new recording or upload is not an example: its reference text no longer applies.
        audio.input(lambda: "", None, reference, api_visibility="private")
        # Whatever the new clip is (an example too), the old result does not belong to it.
        audio.change(on_clear, None, outputs + [last], api_visibility="private")
        transcript.change(words_view, [reference, transcript], words, api_visibility="private")
        button.click(on_transcribe, [audio, model_box, log_y, shared, decoding], outputs + [last],
                     concurrency_id="model", concurrency_limit=1, api_name="transcribe",
                     # Progress, and a failed run's "Error", on the transcript alone: not a badge on every figure.
                     show_progress_on=transcript, validator=on_join if slots is not None else None) \
            .success(on_narrow, [last, log_y, shared, width], narrow, api_visibility="private", show_progress="hidden")
        for toggle in (log_y, shared):
            toggle.change(on_toggle, [last, log_y, shared], stages, api_visibility="private") \
                .then(on_narrow, [last, log_y, shared, width], narrow, api_visibility="private", show_progress="hidden")
    return demo
