"""The names of the traced stages, in pipeline order, and the role each plays.

Every module that records, looks up or draws a stage uses these names; a view that needs to
know what a stage *is* (the encoder's frames, a projector step, the projector's output, the
LLM's own embeddings) asks ``stage_role`` rather than matching strings.
"""

from __future__ import annotations

ENCODER_OUTPUT = "encoder output"
STACKED = "stacked"
GENERATED_TOKENS = "generated tokens"  # input embeddings of the tokens the decoder produced
LLM_EMBEDDINGS = "LLM token embeddings"  # the decoder's whole input-embedding matrix

# The projectors' own stages, as each records them (the last one is what the LLM reads).
SWIGLU_STAGES = (STACKED, "pre-norm", "gate", "up", "swiglu", "down", "post-norm")
MLP_STAGES = (STACKED, "linear_1", "norm", "gelu", "linear_2", "norm_2")
# Earlier Tiny Audio MLP projectors, as their checkpoints' keys describe them: without the output
# RMSNorm (before 2026-05-06), without either RMSNorm (January 2026), and the December 2025 one
# whose strided convolution downsamples the frames instead of stacking them.
MLP_STAGES_WITHOUT_NORM_2 = MLP_STAGES[:-1]
MLP_PLAIN_STAGES = (STACKED, "linear_1", "gelu", "linear_2")
DOWNSAMPLE = "downsample"
CONV_MLP_STAGES = (DOWNSAMPLE, "linear_1", "gelu", "linear_2")

# Roles.
ENCODER = "encoder"
PROJECTOR = "projector"
PROJECTOR_OUTPUT = "projector output"
GENERATED = "generated"
LLM = "llm"


def stage_role(name: str, projector_stages: tuple[str, ...]) -> str:
    """What the stage called ``name`` is, in a pipeline whose projector records ``projector_stages``."""
    if name == ENCODER_OUTPUT:
        return ENCODER
    if name == GENERATED_TOKENS:
        return GENERATED
    if name == LLM_EMBEDDINGS:
        return LLM
    if projector_stages and name == projector_stages[-1]:
        return PROJECTOR_OUTPUT
    if name in projector_stages:
        return PROJECTOR
    raise ValueError(f"unknown stage {name!r}")
