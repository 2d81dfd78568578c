"""The app's "Explore" tab: the course's experiments on the current clip and the loaded model.

Every number comes from ``tiny_audio.explore`` (real modules, the real trace) and every table from
``tiny_audio.report.explore_tables``, the ones the CLI prints; this module only puts them on the page. Without a clip yet, the clip-based explorers fall back to the course's 3 s example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import gradio as gr
import numpy as np

from tiny_audio.explore.activations import study_activations
from tiny_audio.explore.configs import ProjectorConfig, projector_configs
from tiny_audio.explore.decoders import decoder_table
from tiny_audio.explore.grid import grid_panels
from tiny_audio.explore.rates import downsampling_table, model_stacking
from tiny_audio.pipeline.model import TranscriptionResult
from tiny_audio.report import explore_tables, plots

COURSE_CLIP = dict(encoder_frames=149, llm_dim=2048)  # the course's running example: 3 s of audio


@dataclass
class LastRun:
    """What the explorers need from the latest transcription."""

    spec: str  # model name in the ModelStore
    samples: np.ndarray  # 16 kHz mono
    result: TranscriptionResult


def rates_table(store, run: Optional[LastRun], custom_rate) -> tuple[str, list[list[str]]]:
    if run is None:
        frames, llm_dim, mode = COURSE_CLIP["encoder_frames"], COURSE_CLIP["llm_dim"], "pad"
        note = "No clip transcribed yet: the course's example (3 s, 149 encoder frames, 2048-d LLM)."
    else:
        model = store.get(run.spec)
        try:
            stacking = model_stacking(model, run.result)
        except ValueError as error:  # a projector that does not stack frames
            raise gr.Error(str(error)) from None
        frames, llm_dim, mode = stacking.frames_in, stacking.llm_dim, stacking.mode
        note = f"This clip on the loaded model: {stacking.summary}"
    custom = [int(custom_rate)] if custom_rate and int(custom_rate) >= 1 else None
    # The note already names the model's own k, so the rows go unmarked.
    table = explore_tables.rates_table(downsampling_table(frames, llm_dim, custom=custom, mode=mode))
    return note, table.rows


def activations(store, run: Optional[LastRun]):
    if run is None:
        raise gr.Error("Transcribe a clip first: the activations are computed on its real gate pre-activations.")
    try:
        report = study_activations(store.get(run.spec), run.samples)
    except ValueError as error:  # the MLP projector has no gate
        raise gr.Error(str(error)) from None
    return plots.activation_histograms(report), explore_tables.activations_table(report).rows


def configs_table(run: Optional[LastRun], extra: list) -> list[list[str]]:
    if run is None:
        rows = projector_configs(extra=extra)
    else:
        rows = projector_configs(extra=extra, duration_s=run.result.duration_s,
                                 encoder_frames=run.result.stages[0].shape[1])
    return explore_tables.configs_table(rows, course_clip=run is None).rows


def decoders(rank) -> tuple[list[list[str]], str]:
    table = explore_tables.decoders_table(decoder_table(rank=int(rank)))
    return table.rows, "\n".join(table.notes)  # the notes read as Markdown too


def grid(run: Optional[LastRun]):
    if run is None:
        raise gr.Error("Transcribe a clip first: the grid is drawn from its trace.")
    return plots.stage_grid_figure(grid_panels(run.result))


def build_explore_tab(store, last_run: gr.State) -> None:
    """Add the Explore tab to the Blocks being built; ``last_run`` holds the latest ``LastRun``."""
    with gr.Tab("Explore"):
        gr.Markdown("The course's experiments, computed from real modules and your latest clip.")
        with gr.Accordion("1 · Downsampling rate: how many audio tokens does the LLM read?", open=True):
            with gr.Row():
                custom = gr.Number(label="your own rate k", value=4, precision=0, minimum=1, maximum=100)
                rates_button = gr.Button("Compute")
            # Filled at once with the course's clip; Compute redoes it for the latest one.
            first_note, first_rates = rates_table(store, None, 4)
            rates_note = gr.Markdown(first_note, elem_id="explore-rates-note")
            rates = gr.Dataframe(headers=explore_tables.RATE_HEADERS, value=first_rates, interactive=False,
                                 elem_id="explore-rates")
        with gr.Accordion("2 · Activations on this clip's gate pre-activations", open=False):
            act_button = gr.Button("Run on the latest clip")
            act_plot = gr.Plot(show_label=False, elem_id="explore-activations")
            act_table = gr.Dataframe(headers=explore_tables.ACTIVATION_HEADERS, interactive=False)
            gr.Markdown("Gradient flow: for plain activations the mean |f′(x)| on the gate pre-activations; for the "
                        "GLU family the mean |∂L/∂x| at the projector's normalised input, L a fixed random "
                        "projection of the output (the same for all four).")
        with gr.Accordion("3 · Projector configurations (parameters counted from built modules)", open=False):
            with gr.Row():
                enc = gr.Number(label="encoder dim", value=1280, precision=0, minimum=1)
                k = gr.Number(label="k", value=4, precision=0, minimum=1)
                hidden = gr.Number(label="hidden", value=6144, precision=0, minimum=1)
                llm = gr.Number(label="LLM dim", value=2048, precision=0, minimum=1)
                add = gr.Button("Add configuration")
            extra = gr.State([])
            configs = gr.Dataframe(headers=explore_tables.CONFIG_HEADERS, value=configs_table(None, []), interactive=False,
                                   elem_id="explore-configs")
        with gr.Accordion("4 · Decoders: which LLM, which projector, how much memory to train", open=False):
            rank = gr.Slider(4, 256, value=64, step=4, label="LoRA rank")
            first_rows, first_notes = decoders(64)
            decoder_rows = gr.Dataframe(headers=explore_tables.DECODER_HEADERS, value=first_rows, interactive=False,
                                        elem_id="explore-decoders")
            decoder_notes = gr.Markdown(first_notes)
        with gr.Accordion("5 · Stage by stage (the course's 2×3 grid)", open=False):
            grid_button = gr.Button("Draw for the latest clip")
            gr.Markdown("Each panel is named as on the other tabs: the course's *Prenorm* is pre-norm, its *Final* "
                        "the projector's output (marked → LLM), its *Target LLM* the LLM token embeddings. Hover the "
                        "figure and click the camera icon to save it as a PNG.")
            grid_plot = gr.Plot(show_label=False, elem_id="explore-grid")

        private = dict(api_visibility="private")
        rates_button.click(lambda run, c: rates_table(store, run, c), [last_run, custom], [rates_note, rates],
                           **private)
        act_button.click(lambda run: activations(store, run), last_run, [act_plot, act_table],
                         concurrency_id="model", **private)

        def add_config(run, configs_so_far, enc_dim, k_value, hidden_dim, llm_dim):
            values = [int(v or 0) for v in (enc_dim, k_value, hidden_dim, llm_dim)]
            if min(values) < 1:
                raise gr.Error("Every dimension and k must be a positive whole number.")
            configs_so_far = configs_so_far + [ProjectorConfig(f"yours #{len(configs_so_far) + 1}", *values)]
            return configs_so_far, configs_table(run, configs_so_far)

        add.click(add_config, [last_run, extra, enc, k, hidden, llm], [extra, configs], **private)
        rank.release(decoders, rank, [decoder_rows, decoder_notes], **private)
        grid_button.click(grid, last_run, grid_plot, **private)
