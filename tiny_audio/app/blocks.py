"""The Gradio app: record or upload speech, read the transcript beside every stage's histogram.

``build_demo()`` lays out the Blocks; the handlers below it are plain functions (``gr.Progress``
is a no-op outside an event), so tests call them directly.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Optional

import gradio as gr

from tiny_audio.report import plots
from tiny_audio.pipeline.audio import AudioError, load_audio
from tiny_audio.pipeline.encoders import WHISPER_WINDOW_SECONDS
from tiny_audio.app.examples import example_clips
from tiny_audio.loading.load import NANO_BEAMS
from tiny_audio.pipeline.model import AudioLLM, TranscriptionResult, decoding_text
from tiny_audio.app.explore_tab import Run, build_explore_tab
from tiny_audio.app.live_tab import build_live_tab

DEFAULT_MODEL = os.environ.get("TINY_AUDIO_MODEL", "nano")

try:  # On a ZeroGPU Space, spaces.GPU attaches a GPU for the call; elsewhere it is absent.
    import spaces

    gpu_task = spaces.GPU
except ImportError:  # pragma: no cover - depends on the host

    def gpu_task(fn):
        return fn


class ModelStore:
    """Loaded pipelines by name, at most ``capacity`` of them: when a new one arrives the least
    recently used goes, never the default (on a public Space, visitors' model ids must not pile
    up in memory). Each name loads under its own lock, so a slow download of one model does not
    hold up requests for another."""

    def __init__(self, loader: Optional[Callable[[str], AudioLLM]] = None, capacity: int = 2,
                 pinned: str = DEFAULT_MODEL):
        if loader is None:
            from tiny_audio.loading.load import load_model

            loader = load_model
        self._loader = loader
        self.capacity = max(1, capacity)
        self.pinned = pinned
        self._models: OrderedDict[str, AudioLLM] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()  # held only for dictionary updates, never while loading

    def is_loaded(self, spec: str) -> bool:
        return spec in self._models

    def get(self, spec: str) -> AudioLLM:
        with self._guard:
            if spec in self._models:
                self._models.move_to_end(spec)
                return self._models[spec]
            lock = self._loading.setdefault(spec, threading.Lock())
        with lock:
            with self._guard:
                if spec in self._models:  # loaded by the request this one waited for
                    self._models.move_to_end(spec)
                    return self._models[spec]
            try:
                model = self._loader(spec)
            except BaseException:
                with self._guard:
                    self._loading.pop(spec, None)
                raise
            with self._guard:  # one step: a request arriving now finds the model, not a free lock
                self._models[spec] = model
                self._loading.pop(spec, None)
                self._evict(keep=spec)
            return model

    def _evict(self, keep: str) -> None:
        """Drop least recently used models over capacity, never the default or the one just
        loaded. A dropped model lives on while a request or a live session still holds it."""
        while len(self._models) > self.capacity:
            victim = next((name for name in self._models if name not in (self.pinned, keep)), None)
            if victim is None:
                return
            del self._models[victim]


@gpu_task
def _run_pipeline(model: AudioLLM, samples, beams: Optional[int] = None):
    return model.transcribe(samples, beams=beams)


# The decoding choices the page offers, as beams for ``transcribe`` (None: the model's own).
DEFAULT_DECODING = "model's default"
DECODING = {DEFAULT_DECODING: None, "greedy": 1, decoding_text(NANO_BEAMS): NANO_BEAMS}
DECODING_INFO = (f"nano's default is {decoding_text(NANO_BEAMS)} (fewer errors on unseen sentences, about twice "
                 "the decoding time on a CPU); other models decode greedily (on a GPU, the fast decoder)")


def transcribe(store: ModelStore, audio_path: Optional[str], model_spec: str, progress=gr.Progress(),
               beams: Optional[int] = None):
    """Run one clip. Returns the result, or raises ``gr.Error`` with a message for the person.
    ``beams``: 1 greedy, more beam search; None: the model's own default."""
    if not audio_path:
        raise gr.Error("Record or upload some audio first.")
    spec = (model_spec or DEFAULT_MODEL).strip()
    try:
        samples = load_audio(audio_path, max_seconds=WHISPER_WINDOW_SECONDS)
    except AudioError as error:
        raise gr.Error(str(error)) from None
    if not store.is_loaded(spec):
        progress(0.1, desc=f"Loading model '{spec}' (the first load of nano converts its weights: ~20 s)")
    try:
        model = store.get(spec)
    except Exception as error:  # a bad id, no network for a Hub model, mismatched checkpoint …
        raise gr.Error(f"Could not load model '{spec}': {str(error).splitlines()[0]}") from None
    progress(0.5, desc="Encoding, projecting, decoding")
    try:
        result = _run_pipeline(model, samples, beams)
    except AudioError as error:
        raise gr.Error(str(error)) from None
    return model, samples, result


def render(model: AudioLLM, samples, result: TranscriptionResult, log_y: bool, shared_range: bool) -> dict:
    """Everything the page shows for one result, by output name."""
    timings = " · ".join(f"{name} {1000 * sec:.0f} ms" for name, sec in result.timings.items())
    tokens = len(result.token_ids)
    info = (
        f"**{result.model_name}** on `{result.device}` ({result.dtype}) · {result.duration_s:.2f} s of audio · "
        f"{tokens} tokens generated ({decoding_text(result.beams)})\n\n{timings}"
    )
    notice = f"⚠️ {result.notice}" if result.notice else ""
    return {
        "transcript": result.text,
        "notice": notice,
        "info": info,
        "stats": _table(*plots.stats_rows(result)),
        "stages": plots.stage_histograms(result, log_y=log_y, shared_range=shared_range),
        "overlay": plots.projector_vs_llm(result),
        "gap": gap_summary(result),
        "norms": plots.frame_norms(result),
        "trace": _table(*plots.trace_rows(result, model.projector.k)),
        "dims": plots.dimension_variance(result),
        "tokens": plots.nearest_tokens(result, model.tokenizer, waveform=samples),
        "download": write_json(result),
    }


def gap_summary(result: TranscriptionResult) -> str:
    c = result.trace.comparison
    norms = result.trace.frame_norms
    mean_norm = sum(norms) / len(norms) if norms else float("nan")
    typical = result.native.typical_row_norm
    return (
        "| measure | value | reads as |\n|---|---:|---|\n"
        f"| RMS ratio (projector ÷ token embeddings) | {c.rms_ratio:.2f} | 1.0 = same loudness |\n"
        f"| std ratio | {c.std_ratio:.2f} | 1.0 = same spread |\n"
        f"| mean gap | {c.mean_gap:+.4f} | 0 = same centre |\n"
        f"| total variation distance | {c.total_variation:.2f} | 0 = identical histograms, 1 = disjoint |\n"
        f"| values outside the embeddings' range | {c.outside_fraction:.1%} | |\n"
        f"| mean audio-token norm ÷ typical token norm | {mean_norm / typical:.2f} | "
        f"{mean_norm:.2f} vs {typical:.2f} |"
    )


# Download files live in one folder per process; only the newest few are kept (Gradio serves its
# own copy of each, so older ones are no longer needed).
DOWNLOADS = Path(tempfile.gettempdir()) / f"projector-lab-{os.getpid()}"
KEEP_DOWNLOADS = 16


def write_json(result: TranscriptionResult) -> str:
    """The run's statistics and histograms as a JSON file, written whole or not at all."""
    DOWNLOADS.mkdir(exist_ok=True)
    runs = sorted(d for d in DOWNLOADS.iterdir() if d.is_dir())  # names start with the time: oldest first
    for old in runs[: max(0, len(runs) - KEEP_DOWNLOADS + 1)]:
        shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{time.time_ns():020d}-", dir=DOWNLOADS))
    final = folder / "projector_lab_trace.json"
    partial = folder / "projector_lab_trace.json.tmp"
    partial.write_text(json.dumps(result.to_dict(), indent=1))
    partial.replace(final)
    return str(final)


def _table(headers, rows):
    return gr.Dataframe(value=rows, headers=headers, interactive=False, wrap=True)


OUTPUTS = ("transcript", "notice", "info", "stats", "stages", "overlay", "gap", "norms", "trace", "dims", "tokens",
           "download")

INTRO = """# Projector Lab
Speak or upload a clip, press **Transcribe**, and watch your audio travel through a speech LLM:
**encoder** (audio → 50 frames/s) → **projector** (stack 5 frames, RMSNorm, SwiGLU, down-projection,
RMSNorm) → **decoder LLM** (reads the projected frames as if they were token embeddings).
Every histogram is computed from the same single forward pass that produced the transcript."""

STAGES_HELP = """Each panel is one stage, in pipeline order; the dashed line marks its mean. Watch the
spread (σ): stacking keeps the encoder's scale, **RMSNorm** resets it to ~1, the **SwiGLU** product is
sparse and peaked, and the final RMSNorm sets the scale the LLM will see. The last panel is the LLM's
own token-embedding table — what the projector's output should resemble."""

OVERLAY_HELP = """Does the projector's output look like the token embeddings the LLM was trained on? Both
are drawn as densities on the embeddings' bins; values outside the embeddings' range are counted,
not hidden. An untrained projector is typically several times too loud."""

NORMS_HELP = """Length (L2 norm) of each audio token the LLM receives, against the typical length of a
real token embedding (dashed). The final RMSNorm gives every frame nearly the same norm (√dim × its
weight), so the bars are flat; the question is how far they sit from the dashed line."""

DIMS_HELP = """Variance of each of the projector's output dimensions across the clip's frames, sorted (the
course's "dimension importance"). A few dominant dimensions mean the audio uses little of the
embedding space."""

TOKENS_HELP = """For each projected frame (~100 ms of audio), the three vocabulary tokens whose embeddings
are nearest by cosine: what the LLM "reads" there. Darker = more similar. Drag sideways to scroll."""


def build_demo(store: Optional[ModelStore] = None) -> gr.Blocks:
    store = store or ModelStore()
    examples = example_clips()
    with gr.Blocks(title="Projector Lab") as demo:
        gr.Markdown(INTRO)
        last = gr.State(None)  # the latest Run: to redraw the histograms, and for the explorers
        with gr.Row():
            with gr.Column(scale=1):
                audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Speech (≤ 30 s)",
                                 elem_id="speech")
                model_box = gr.Dropdown(
                    choices=sorted({"nano", DEFAULT_MODEL}),
                    value=DEFAULT_MODEL,
                    allow_custom_value=True,
                    label="Model",
                    info="nano runs offline; or type a Tiny Audio checkpoint (Hub id or local directory)",
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

        components = dict(transcript=transcript, notice=notice, info=info, stats=stats, stages=stages,
                          overlay=overlay, gap=gap, norms=norms, trace=trace, dims=dims, tokens=tokens,
                          download=download)
        outputs = [components[name] for name in OUTPUTS]

        def on_transcribe(audio_path, model_spec, log_y_value, shared_value, decoding_value=DEFAULT_DECODING,
                          progress=gr.Progress()):
            beams = DECODING.get(decoding_value)
            model, samples, result = transcribe(store, audio_path, model_spec, progress, beams)
            shown = render(model, samples, result, log_y_value, shared_value)
            return [shown[name] for name in OUTPUTS] + [Run((model_spec or DEFAULT_MODEL).strip(), samples, result)]

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
