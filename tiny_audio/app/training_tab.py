"""The app's "Training" tab: the shipped model's training history, one snapshot at a time.

Every snapshot is a result of the app's own pipeline on a fixed probe clip at one training step
(``tiny_audio.training.history`` records them), so the views are the Transcribe views' own
figures: stage histograms, the projector-vs-LLM overlay and the nearest tokens, plus the loss
curves with the step marked and the scale at every stage.
"""

from __future__ import annotations

import time
from typing import Optional

import gradio as gr

from tiny_audio.app.views import NARROW_PX
from tiny_audio.paths import ASSETS
from tiny_audio.pipeline.history import History, load_history
from tiny_audio.report import plots
from tiny_audio.report.plots.history import loss_figure
from tiny_audio.report.plots.story import stage_story
from tiny_audio.report.words import word_diff, word_error_rate

TRAINING_HELP = """How the shipped nano model got here. During training the model was stopped every
few steps and each **probe clip** (the example clips and one real human voice from the training data)
went through exactly the pipeline the Transcribe button runs. Move the slider, or press **Play**: watch
the projector's output move onto the LLM's own token embeddings, the scale settle at each stage, the
nearest tokens turn into words and the greedy transcript come together. The first step is the
projector before any training (random weights, seeded)."""

PLAY_SECONDS = 1.2  # between two steps while playing


def snapshot_views(history: History, index: int, probe: str, compact: bool = False) -> list:
    """The tab's outputs for one snapshot; ``compact``: figures laid out for a phone's width."""
    snapshot = history.snapshots[index]
    result = snapshot.results[probe]
    reference = history.reference(probe)
    wer = word_error_rate(reference, result.text)
    where = next((p.source for p in history.probes if p.name == probe), "")
    header = (f"### {snapshot.label}\n**Probe:** `{probe}` ({where}) · greedy transcript, "
              f"{100 * wer:.0f}% of the reference's words wrong")
    words = f"**Transcript:** {result.text or '(nothing)'}\n\n**Reference:** {reference}\n\n**Difference:** " \
            f"{word_diff(reference, result.text) or '—'}  (~~missed~~ **heard instead**)"
    return [header, words, loss_figure(history, snapshot), stage_story(result, "The scale at each stage, this step"),
            plots.projector_vs_llm(result), plots.stage_histograms(result, compact=compact),
            plots.nearest_tokens(result, compact=compact)]


def journey_text(history: History) -> str:
    lines = []
    for join in history.joins:
        if join["how"] == "resumed":
            continue
        how = join["how"]
        if how.startswith("warm from "):  # its first step shows the weights it started from
            how = f"started from the weights in `{how[len('warm from '):]}`, shown at its first step after the untrained one"
        line = f"- **{join['run']}**: {how}"
        lines.append(line + (f" — {join['note']}" if join.get("note") else ""))
    return "Where the runs in this history started:\n" + "\n".join(lines) if lines else ""


def is_narrow(width_px) -> bool:
    return bool(width_px) and width_px < NARROW_PX


def build_training_tab(width: gr.Number, history: Optional[History] = None) -> None:
    """``width``: the page's width in px, set once the page has loaded (see ``PAGE_WIDTH_JS``)."""
    with gr.Tab("Training"):
        gr.Markdown(TRAINING_HELP)
        if history is None:
            try:
                history = load_history(ASSETS)
            except (OSError, ValueError, KeyError) as error:
                gr.Markdown(f"No training history ships with this copy of the app ({error}).")
                return
        if not history.snapshots:
            gr.Markdown("The shipped training history holds no snapshots.")
            return
        gr.Markdown(journey_text(history))
        probes = [p.name for p in history.probes]
        last = len(history.snapshots) - 1
        with gr.Row():
            probe = gr.Dropdown(choices=probes, value=probes[-1], label="Probe clip", elem_id="training-probe")
            step = gr.Slider(0, last, value=last, step=1, label="Snapshot (0 = before any training)",
                             elem_id="training-step")
            play = gr.Button("▶ Play from the start", elem_id="training-play", scale=0)
        # Drawn at build time: the tab opens on the last snapshot (the shipped weights).
        first = snapshot_views(history, last, probes[-1])
        header = gr.Markdown(first[0], elem_id="training-header")
        words = gr.Markdown(first[1], elem_id="training-words")
        loss = gr.Plot(first[2], show_label=False, elem_id="training-loss")
        story = gr.Plot(first[3], show_label=False, elem_id="training-story")
        overlay = gr.Plot(first[4], show_label=False, elem_id="training-overlay")
        stages = gr.Plot(first[5], show_label=False, elem_id="training-stages")
        tokens = gr.Plot(first[6], show_label=False, elem_id="training-tokens")
        outputs = [header, words, loss, story, overlay, stages, tokens]

        def show(index, probe_name, width_px):
            return snapshot_views(history, int(index), probe_name, compact=is_narrow(width_px))

        def show_if_narrow(index, probe_name, width_px):
            """The page's width is known: a phone gets the figures redrawn for it."""
            return show(index, probe_name, width_px) if is_narrow(width_px) else [gr.skip()] * len(outputs)

        def play_all(probe_name, width_px):
            for index in range(len(history.snapshots)):
                yield [index] + show(index, probe_name, width_px)
                time.sleep(PLAY_SECONDS)

        hidden = dict(api_visibility="private", show_progress="hidden")
        width.change(show_if_narrow, [step, probe, width], outputs, **hidden)
        step.change(show, [step, probe, width], outputs, api_visibility="private")
        probe.change(show, [step, probe, width], outputs, api_visibility="private")
        play.click(play_all, [probe, width], [step] + outputs, api_visibility="private", concurrency_id="training",
                   concurrency_limit=4)
