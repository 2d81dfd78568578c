"""Clean-up of generated text: thinking blocks and runaway repetitions, as Tiny Audio does."""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?(</think>|$)", flags=re.DOTALL)


def strip_thinking(text: str) -> str:
    """Remove ``<think>…</think>`` blocks (an unterminated one runs to the end)."""
    return _THINK.sub("", text)


def strip_trailing_repetition(text: str, min_repeats: int = 3, max_unit_words: int = 8) -> str:
    """Collapse a word sequence repeated ``min_repeats`` or more times at the end to one copy.

    A decoder that loses track of the audio tends to loop ("the cat the cat the cat ...").
    """
    words = text.split()
    changed = True
    while changed:
        changed = False
        for unit in range(1, max_unit_words + 1):
            if len(words) < unit * min_repeats:
                break
            tail = words[-unit:]
            repeats = 1
            while len(words) >= unit * (repeats + 1) and words[-unit * (repeats + 1) : -unit * repeats] == tail:
                repeats += 1
            if repeats >= min_repeats:
                words = words[: len(words) - unit * (repeats - 1)]
                changed = True
                break
    return " ".join(words)


def clean_transcript(text: str) -> str:
    return strip_trailing_repetition(strip_thinking(text).strip()).strip()
