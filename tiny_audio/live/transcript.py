"""The text side of live transcription: committed pieces with the audio they cover, and agreement
between runs (the guard against a decoder that loops is ``pipeline.text.cut_loop``)."""

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
