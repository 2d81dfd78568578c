"""The text side of live transcription: committed pieces with the audio they cover, agreement
between runs, and what the final run after Stop starts from (the guard against a decoder that
loops is ``pipeline.text.cut_loop``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """Text committed for good, and the audio it was decoded from (seconds since the start)."""

    text: str
    start_s: float
    end_s: float


def join(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part and part.strip())


def common_prefix(a: list[int], b: list[int]) -> list[int]:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]


# After Stop, the latest run's words but these last few are kept, so the final run decodes only the
# tail's last words (decoding all the words the runs had not agreed on yet took 2.2 s for the last
# sentence of bench/live_latency.py --session, float32, 2-core CPU; the whole session's final
# transcript came 2.20 s after the end with this margin against 2.22 s without: no gain measured
# there).
END_MARGIN_TOKENS = 3


def settled_for_the_end(latest: list[int], agreed: list[int], heard_all: bool) -> list[int]:
    """What the final run after Stop is forced to start with: the latest run's words when it heard
    all the audio (only its cut-off end is left to decode), else those words but the last
    ``END_MARGIN_TOKENS`` (a word the end of its audio cut off), or the agreed start if longer."""
    if heard_all:
        return list(latest)
    settled = latest[: max(0, len(latest) - END_MARGIN_TOKENS)]
    return list(settled if len(settled) > len(agreed) else agreed)
