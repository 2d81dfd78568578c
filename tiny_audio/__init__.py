"""Projector Lab's pipeline: speech encoder → audio projector → decoder LLM, traced stage by stage.

    from tiny_audio import load_model
    model = load_model()                    # the offline nano model
    result = model.transcribe("some.wav")
    result.text, result.stages, result.timings
"""

from tiny_audio.loading.load import load_model
from tiny_audio.pipeline.audio import AudioError, load_audio
from tiny_audio.pipeline.model import AudioLLM, TranscriptionResult

__all__ = ["AudioError", "AudioLLM", "TranscriptionResult", "load_audio", "load_model"]
