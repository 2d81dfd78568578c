"""A Tiny Audio checkpoint's prompt and generation settings, read from its ``config.json``.

Each field is read as Tiny Audio's code of the checkpoint's era reads it; a field that is absent
takes that era's default. A setting this app cannot honour (sampling, a repetition penalty …) is
an error naming it, not a silently different decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiny_audio.pipeline.prompt import AUDIO_MARKER, PromptSpec, checkpoint_prompt


@dataclass(frozen=True)
class Era:
    """How Tiny Audio's code of one period prompted and decoded its checkpoints."""

    system_prompt: str  # when config.json has none
    user_prompt: str  # when config.json has none
    max_new_tokens: int  # when config.json has none
    stop_tokens: tuple[str, ...]  # the end-of-turn tokens its generation stopped at
    reads_min_new_tokens: bool  # whether its generation honoured config.json's min_new_tokens
    thinking_off: bool  # whether it rendered the chat template with enable_thinking=False


# The course's (2025-11, SwiGLU), December 2025's (convolutional MLP) and today's (frame-stacking
# MLP: an empty system prompt in its training configurations, the audio then the instruction).
ERAS = {
    "course": Era("/no_think /system_override", f"Transcribe: {AUDIO_MARKER}", 128, ("<|im_end|>",), True, True),
    "conv": Era("/no_think /system_override", f"Transcribe: {AUDIO_MARKER}", 96, ("<|im_end|>",), False, False),
    "current": Era("", f"{AUDIO_MARKER} Transcribe the speech to text", 128, ("<|im_end|>", "<|endoftext|>"),
                   True, True),
}
# Settings that must keep these values (or be absent) for greedy / beam decoding to be the one
# the checkpoint asks for.
NEUTRAL = {"do_sample": (False, None), "repetition_penalty": (1.0, None), "no_repeat_ngram_size": (0, None)}


@dataclass(frozen=True)
class CheckpointSettings:
    prompt: PromptSpec
    max_new_tokens: int
    min_new_tokens: int
    beams: int
    stop_tokens: tuple[str, ...]


def checkpoint_settings(config: dict, era_name: str) -> CheckpointSettings:
    """The prompt and decoding of a checkpoint of one era ("course", "conv" or "current")."""
    era = ERAS[era_name]
    for key, allowed in NEUTRAL.items():
        if config.get(key) not in allowed:
            raise ValueError(f"config.json sets {key}={config[key]!r}, which this app's greedy and beam "
                             "decoders do not apply")
    beams = int(config.get("num_beams") or 1)
    if beams > 1 and config.get("length_penalty") not in (1.0, None):
        raise ValueError(f"config.json sets length_penalty={config['length_penalty']!r} for beam search; "
                         "this app's beam search uses 1.0")
    system = config.get("system_prompt", era.system_prompt)
    user = config.get("user_prompt") or era.user_prompt
    if user.count(AUDIO_MARKER) != 1:
        raise ValueError(f"config.json's user_prompt {user!r} must hold one {AUDIO_MARKER} slot for the audio")
    return CheckpointSettings(
        prompt=checkpoint_prompt(era_name, system, user, thinking_off=era.thinking_off),
        max_new_tokens=int(config.get("max_new_tokens") or era.max_new_tokens),
        min_new_tokens=int(config.get("min_new_tokens") or 0) if era.reads_min_new_tokens else 0,
        beams=beams,
        stop_tokens=era.stop_tokens,
    )
