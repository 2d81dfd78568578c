"""What one run returns: the transcript, the trace, and everything a view needs to read them.

A result is plain data (no tensors, no model): the CLI, the app, live mode and the JSON download
draw it without the model that made it — the stack rate, which stage plays which role, how
much audio each frame covers and the text of every token id it mentions are all in here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from tiny_audio.pipeline.stages import ENCODER_OUTPUT, stage_role
from tiny_audio.pipeline.trace import EmbeddingSummary, StageStats, Trace


@dataclass
class TranscriptionResult:
    text: str  # cleaned transcript
    raw_text: str  # what the decoder generated, before clean-up
    token_ids: list[int]
    trace: Optional[Trace]
    timings: dict[str, float]  # seconds per step
    duration_s: float  # length of the audio
    model_name: str
    device: str
    dtype: str
    projector_trained: bool
    notice: Optional[str] = None  # shown beside the transcript (e.g. untrained projector)
    beams: int = 1  # 1: greedy decoding; more: beam search with that many beams
    # How the pipeline that made it is laid out.
    k: int = 1  # encoder frames stacked into one audio token
    stack_mode: str = "pad"  # "pad": the last token's missing frames are zeros; "truncate": dropped
    projector_stages: tuple[str, ...] = ()  # the projector's traced stages, in order
    encoder_frame_ms: float = 20.0  # audio per encoder frame
    # Text of each token id the result mentions (generated and nearest tokens).
    token_texts: dict[int, str] = field(default_factory=dict)
    native: Optional[EmbeddingSummary] = field(default=None, repr=False)  # the LLM's embedding matrix

    @property
    def stages(self) -> list[StageStats]:
        return self.trace.stages if self.trace else []

    @property
    def audio_token_ms(self) -> float:
        """Audio behind one projected token: exactly k encoder frames (the last one partly
        zero padding when the stack pads)."""
        return self.k * self.encoder_frame_ms

    @property
    def output_stage(self) -> Optional[str]:
        """The projector stage the LLM reads."""
        return self.projector_stages[-1] if self.projector_stages else None

    def role(self, stage: str) -> str:
        """What the stage is: encoder, projector, projector output, generated or llm."""
        return stage_role(stage, self.projector_stages)

    @property
    def encoder_frames(self) -> Optional[int]:
        return self.trace.stage(ENCODER_OUTPUT).shape[1] if self.trace else None

    @property
    def audio_tokens(self) -> Optional[int]:
        return self.trace.stage(self.output_stage).shape[1] if self.trace and self.output_stage else None

    def to_dict(self) -> dict:
        """Everything, ready for JSON."""
        data = {key: getattr(self, key) for key in (
            "text", "raw_text", "token_ids", "timings", "duration_s", "model_name", "device", "dtype",
            "projector_trained", "notice", "beams", "k", "stack_mode", "encoder_frame_ms",
        )}
        data["projector_stages"] = list(self.projector_stages)
        data["audio_token_ms"] = self.audio_token_ms
        data["token_texts"] = {str(token_id): text for token_id, text in self.token_texts.items()}
        data["trace"] = asdict(self.trace) if self.trace else None
        if self.native is not None:
            data["llm_embeddings"] = self.native.to_dict()
        return data
