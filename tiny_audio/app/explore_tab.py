"""The app's "Explore" tab: the course's experiments on the current clip and the loaded model.

Every number comes from ``tiny_audio.explore`` (real modules, the real trace); this module only
lays it out. Without a clip yet, the clip-based explorers fall back to the course's 3 s example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import gradio as gr
import numpy as np

from tiny_audio.explore import experiments as explore
from tiny_audio.report import plots
from tiny_audio.pipeline.model import TranscriptionResult

COURSE_CLIP = dict(encoder_frames=149, duration_s=3.0, llm_dim=2048)  # the course's running example


@dataclass
class Run:
    """What the explorers need from the latest transcription."""

    spec: str  # model name in the ModelStore
    samples: np.ndarray  # 16 kHz mono
    result: TranscriptionResult


def _f(value: Optional[float], digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def rates_table(store, run: Optional[Run], custom_rate) -> tuple[str, list[list[str]]]:
    if run is None:
        frames, duration, llm_dim, mode = (COURSE_CLIP["encoder_frames"], COURSE_CLIP["duration_s"],
                                           COURSE_CLIP["llm_dim"], "pad")
        note = "No clip transcribed yet: the course's example (3 s, 149 encoder frames, 2048-d LLM)."
    else:
        model = store.get(run.spec)
        stacking = explore.model_stacking(model, run.result)
        frames, duration, llm_dim, mode = stacking.frames_in, stacking.duration_s, stacking.llm_dim, stacking.mode
        note = f"This clip on the loaded model: {stacking.summary}"
    custom = [int(custom_rate)] if custom_rate and int(custom_rate) >= 1 else None
    rows = explore.downsampling_table(frames, duration, llm_dim, custom=custom, mode=mode)
    table = [
        [f"{r.rate}{' (custom)' if r.custom else ''}", str(r.frames_in), str(r.frames_out), _f(r.ms_per_token),
         str(r.padded_frames if mode == "pad" else r.dropped_frames),
         f"{r.embed_bytes_fp32 / 1024:,.1f}", f"{r.embed_bytes_bf16 / 1024:,.1f}"]
        for r in rows
    ]
    return note, table


RATE_HEADERS = ["k", "encoder frames", "LLM audio tokens", "ms of audio per token", "frames padded / dropped",
                "embeddings KiB (fp32)", "KiB (bf16)"]


def activations(store, run: Optional[Run]):
    if run is None:
        raise gr.Error("Transcribe a clip first: the activations are computed on its real gate pre-activations.")
    try:
        report = explore.study_activations(store.get(run.spec), run.samples)
    except ValueError as error:  # the MLP projector has no gate
        raise gr.Error(str(error)) from None
    rows = [
        [r.name, r.data, f"{r.sparsity:.1%}", f"{r.range:.3g}", f"{r.mean:.3g}", f"{r.std:.3g}",
         f"{r.grad_mean_abs:.3g}"]
        for r in report.plain + report.glu
    ]
    return plots.activation_histograms(report), rows


ACTIVATION_HEADERS = ["activation", "input", "zeros", "range", "mean", "std", "gradient flow mean |∂|"]


def configs_table(run: Optional[Run], extra: list) -> list[list[str]]:
    if run is None:
        rows = explore.projector_configs(extra=extra)
    else:
        rows = explore.projector_configs(extra=extra, duration_s=run.result.duration_s,
                                         encoder_frames=run.result.stages[0].shape[1])
    table = []
    for r in rows:
        if r.course is None:
            course = ""
        else:
            course = f"{r.course.params:,}" + (" ✓" if r.course_params_right else " ✗ wrong")
        table.append([r.name, str(r.encoder_dim), str(r.k), str(r.hidden_dim), str(r.llm_dim), f"{r.params:,}",
                      course, str(r.frames_out), f"{r.ms_per_frame:.1f}", f"{r.compression:.2f}×"])
    return table


CONFIG_HEADERS = ["configuration", "encoder dim", "k", "hidden", "LLM dim", "parameters (counted)",
                  "course says", "frames", "ms/frame", "compression"]


def decoders(rank) -> tuple[list[list[str]], str]:
    report = explore.decoder_table(rank=int(rank))
    rows = [
        [r.name, f"{r.hidden_size}", f"{r.num_hidden_layers}", f"{r.num_attention_heads}/{r.num_key_value_heads}",
         f"{r.vocab_size:,}", f"{r.params / 1e9:.2f} B", f"{r.projector_params / 1e6:.1f} M",
         f"{r.lora_params / 1e6:.1f} M", f"{r.training_gb:.1f}"]
        for r in report.rows
    ]
    notes = ("**Assumptions**\n\n" + "\n".join(f"- {a}" for a in report.assumptions)
             + "\n\n**Where the course's table goes wrong**\n\n" + "\n".join(f"- {e}" for e in report.course_errors))
    return rows, notes


DECODER_HEADERS = ["decoder", "hidden", "layers", "heads/KV", "vocabulary", "parameters", "projector needed",
                   "LoRA params", "training GB"]


def grid(run: Optional[Run]):
    if run is None:
        raise gr.Error("Transcribe a clip first: the grid is drawn from its trace.")
    return plots.stage_grid(explore.stage_grid(run.result))


def build_explore_tab(store, last_run: gr.State) -> None:
    """Add the Explore tab to the Blocks being built; ``last_run`` holds the latest ``Run``."""
    with gr.Tab("Explore"):
        gr.Markdown("The course's experiments, computed from real modules and your latest clip.")
        with gr.Accordion("1 · Downsampling rate: how many audio tokens does the LLM read?", open=True):
            with gr.Row():
                custom = gr.Number(label="your own rate k", value=4, precision=0, minimum=1, maximum=100)
                rates_button = gr.Button("Compute")
            rates_note = gr.Markdown()
            rates = gr.Dataframe(headers=RATE_HEADERS, interactive=False, elem_id="explore-rates")
        with gr.Accordion("2 · Activations on this clip's gate pre-activations", open=False):
            act_button = gr.Button("Run on the latest clip")
            act_plot = gr.Plot(show_label=False, elem_id="explore-activations")
            act_table = gr.Dataframe(headers=ACTIVATION_HEADERS, interactive=False)
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
            configs = gr.Dataframe(headers=CONFIG_HEADERS, value=configs_table(None, []), interactive=False,
                                   elem_id="explore-configs")
        with gr.Accordion("4 · Decoders: which LLM, which projector, how much memory to train", open=False):
            rank = gr.Slider(4, 256, value=64, step=4, label="LoRA rank")
            first_rows, first_notes = decoders(64)
            decoder_rows = gr.Dataframe(headers=DECODER_HEADERS, value=first_rows, interactive=False,
                                        elem_id="explore-decoders")
            decoder_notes = gr.Markdown(first_notes)
        with gr.Accordion("5 · Stage by stage (the course's 2×3 grid)", open=False):
            grid_button = gr.Button("Draw for the latest clip")
            gr.Markdown("Hover the figure and click the camera icon to save it as a PNG.")
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
            configs_so_far = configs_so_far + [explore.ProjectorConfig(f"yours #{len(configs_so_far) + 1}", *values)]
            return configs_so_far, configs_table(run, configs_so_far)

        add.click(add_config, [last_run, extra, enc, k, hidden, llm], [extra, configs], **private)
        rank.release(decoders, rank, [decoder_rows, decoder_notes], **private)
        grid_button.click(grid, last_run, grid_plot, **private)
