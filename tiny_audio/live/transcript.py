"""The text side of live transcription: committed pieces with the audio they cover, agreement
between runs, and the guard against a decoder that loops."""

from __future__ import annotations

import re
from dataclasses import dataclass

REPEAT_PHRASE_WORDS = 4  # a phrase this long said twice in one piece is a loop, not speech
REPEAT_UNIT_TIMES = 4  # a shorter one four times in a row ("no, no, no" is still speech)


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


def _words(text: str) -> list[str]:
    return [re.sub(r"[^\w']", "", word.lower()) for word in text.split()]


def loop_start(text: str) -> int | None:
    """The word index where ``text`` starts repeating itself — the second time a phrase of
    ``REPEAT_PHRASE_WORDS`` words appears, or the second of ``REPEAT_UNIT_TIMES`` back-to-back
    copies of a shorter one — or None when it does not."""
    words = _words(text)
    n = REPEAT_PHRASE_WORDS
    seen: set[tuple[str, ...]] = set()
    first = None
    for i in range(len(words) - n + 1):
        phrase = tuple(words[i : i + n])
        if phrase in seen:
            first = i
            break
        seen.add(phrase)
    for unit in range(1, n):
        for i in range(len(words) - unit * REPEAT_UNIT_TIMES + 1):
            copies = [words[i + c * unit : i + (c + 1) * unit] for c in range(REPEAT_UNIT_TIMES)]
            if all(copy == copies[0] for copy in copies) and any(copies[0]):
                first = i + unit if first is None else min(first, i + unit)
                break
    return first


def cut_loop(text: str) -> tuple[str, bool]:
    """``text`` up to where it starts repeating itself, and whether it did."""
    start = loop_start(text)
    if start is None:
        return text, False
    return " ".join(text.split()[:start]), True
