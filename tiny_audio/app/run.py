"""One Transcribe press: check the audio, load the model (with progress), run the pipeline."""

from __future__ import annotations

from typing import Optional

import gradio as gr

from tiny_audio.app.store import DEFAULT_MODEL, ModelStore
from tiny_audio.loading.nano import NANO_BEAMS
from tiny_audio.pipeline.audio import AudioError, load_audio
from tiny_audio.pipeline.decoding import decoding_text
from tiny_audio.pipeline.encoders import WHISPER_WINDOW_SECONDS
from tiny_audio.pipeline.model import AudioLLM

try:  # On a ZeroGPU Space, spaces.GPU attaches a GPU for the call; elsewhere it is absent.
    import spaces

    gpu_task = spaces.GPU
except ImportError:  # pragma: no cover - depends on the host

    def gpu_task(fn):
        return fn


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
