"""The Projector Lab page: the input column, the result views in tabs, the Live and Explore tabs."""

from __future__ import annotations

from typing import Optional

import gradio as gr

from tiny_audio.app.examples import example_clips
from tiny_audio.app.explore_tab import LastRun, build_explore_tab
from tiny_audio.app.live_tab import build_live_tab
from tiny_audio.app.run import DECODING, DECODING_INFO, DEFAULT_DECODING, transcribe
from tiny_audio.app.serving import ClientQuota, client_id, delete_cache
from tiny_audio.app.store import DEFAULT_MODEL, ModelStore
from tiny_audio.app.training_tab import build_training_tab
from tiny_audio.app.views import (
    DIMS_HELP,
    INTRO,
    NORMS_HELP,
    OUTPUTS,
    OVERLAY_HELP,
    STAGES_HELP,
    TOKENS_HELP,
    result_views,
)
from tiny_audio.report import plots


def build_demo(store: Optional[ModelStore] = None, quota: Optional[ClientQuota] = None) -> gr.Blocks:
    """The page. A store with an allowlist (public mode) offers only its models (another name typed
    in is refused); ``quota`` bounds each visitor's audio."""
    store = store or ModelStore()
    examples = example_clips()
    with gr.Blocks(title="Projector Lab", delete_cache=delete_cache()) as demo:
        gr.Markdown(INTRO)
        last = gr.State(None)  # the latest Run: to redraw the histograms, and for the explorers
        with gr.Row():
            with gr.Column(scale=1):
                # Upload first: a Record button here too would sit beside the Live tab's own.
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Speech (≤ 30 s)",
                                 elem_id="speech")
                model_box = gr.Dropdown(
                    choices=store.offered or sorted({"nano", DEFAULT_MODEL}),
                    value=DEFAULT_MODEL,
                    allow_custom_value=True,  # a name the server does not offer gets the handler's clear refusal
                    label="Model",
                    info="the models this server offers" if store.public else
                    "nano runs offline; or type a Tiny Audio checkpoint (Hub id or local directory)",
                )
                decoding = gr.Radio(choices=list(DECODING), value=DEFAULT_DECODING, label="Decoding",
                                    info=DECODING_INFO, elem_id="decoding")
                button = gr.Button("Transcribe", variant="primary", elem_id="transcribe")
            with gr.Column(scale=2):
                notice = gr.Markdown(elem_id="notice")
                transcript = gr.Textbox(label="Transcript", lines=2, interactive=False, elem_id="transcript")
                reference = gr.Textbox(label="Reference text (for the example clips)", lines=1, interactive=False,
                                       elem_id="reference")
                info = gr.Markdown(elem_id="info")
                if examples:
                    gr.Examples(examples=[list(e) for e in examples], inputs=[audio, reference],
                                label="Example clips (synthesised speech) — click one, then Transcribe")
        with gr.Tab("Stage histograms"):
            gr.Markdown(STAGES_HELP)
            with gr.Row():
                log_y = gr.Checkbox(label="log y", value=False)
                shared = gr.Checkbox(label="shared x range for all stages", value=False)
            stages = gr.Plot(show_label=False, elem_id="stages")
            stats = gr.Dataframe(label="Statistics per stage", interactive=False, wrap=True, elem_id="stats")
            download = gr.File(label="This run's statistics and histograms (JSON)", elem_id="download", height=80)
        with gr.Tab("Projector vs LLM"):
            gr.Markdown(OVERLAY_HELP)
            overlay = gr.Plot(show_label=False, elem_id="overlay")
            gap = gr.Markdown(elem_id="gap")
            gr.Markdown(NORMS_HELP)
            norms = gr.Plot(show_label=False, elem_id="norms")
        with gr.Tab("Trace"):
            gr.Markdown("The course's Exercise 1: the shape at every step, and how much audio each frame or token "
                        "covers.")
            trace = gr.Dataframe(interactive=False, wrap=True, elem_id="trace")
        with gr.Tab("Dimensions"):
            gr.Markdown(DIMS_HELP)
            dims = gr.Plot(show_label=False, elem_id="dims")
        with gr.Tab("Nearest tokens"):
            gr.Markdown(TOKENS_HELP)
            tokens = gr.Plot(show_label=False, elem_id="tokens")
        build_live_tab(store, model_box)
        build_explore_tab(store, last)
        build_training_tab()

        components = dict(transcript=transcript, notice=notice, info=info, stats=stats, stages=stages,
                          overlay=overlay, gap=gap, norms=norms, trace=trace, dims=dims, tokens=tokens,
                          download=download)
        outputs = [components[name] for name in OUTPUTS]

        def on_transcribe(audio_path, model_spec, log_y_value, shared_value, decoding_value=DEFAULT_DECODING,
                          request: gr.Request = None, progress=gr.Progress()):
            beams = DECODING.get(decoding_value)
            model, samples, result = transcribe(store, audio_path, model_spec, progress, beams, quota,
                                                client_id(request))
            shown = result_views(samples, result, log_y_value, shared_value)
            return [shown[name] for name in OUTPUTS] + [LastRun((model_spec or DEFAULT_MODEL).strip(), samples, result)]

        def on_toggle(run, log_y_value, shared_value):
            if run is None:
                return gr.skip()
            return plots.stage_histograms(run.result, log_y=log_y_value, shared_range=shared_value)

        # A new recording or upload is not an example: its reference text no longer applies.
        audio.input(lambda: "", None, reference, api_visibility="private")
        button.click(on_transcribe, [audio, model_box, log_y, shared, decoding], outputs + [last],
                     concurrency_id="model", concurrency_limit=1, api_name="transcribe")
        for toggle in (log_y, shared):
            toggle.change(on_toggle, [last, log_y, shared], stages, api_visibility="private")
    return demo
