"""Clean-up of generated text: thinking blocks and runaway repetitions.

``cut_loop`` is the strict guard for decodes that must not run on: live mode's pieces, and
Whisper's decoder on frames it cannot tell the end of (the first repeat of a phrase ends it).

Two variants. ``clean_transcript`` is the nano model's (its measured error rates were taken with
it). ``clean_checkpoint_transcript`` behaves as Tiny Audio's own pipeline does for its
checkpoints: closed ``<think>…</think>`` blocks removed, then a character repeated at the very
end, a word repeated at the end and a phrase of 2 to 20 words repeated at the end each collapsed
to one copy (three or more copies, letter case ignored).
"""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?(</think>|$)", flags=re.DOTALL)
_CLOSED_THINK = re.compile(r"<think>.*?</think>\s*", flags=re.DOTALL)
MIN_REPEATS = 3
_TRAILING_CHARACTER = re.compile(rf"(.)\1{{{MIN_REPEATS - 1},}}$")
_TRAILING_WORD = re.compile(rf"\b(\w+)(?:\s+\1){{{MIN_REPEATS - 1},}}\s*$", flags=re.IGNORECASE)
MAX_PHRASE_WORDS = 20


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


def collapse_trailing_phrase(text: str) -> str:
    """The shortest phrase (2 to 20 words) that ends the text three or more times in a row, kept
    once, letter case ignored; the text before it is kept as it is. As in Tiny Audio, the search
    only starts when the last six words hold a repeated word."""
    spans = [match.span() for match in re.finditer(r"\S+", text)]
    words = [text[start:end].lower() for start, end in spans]
    window = words[-2 * MIN_REPEATS:]
    if len(words) < 2 * MIN_REPEATS or len(set(window)) == len(window):
        return text
    for size in range(2, min(MAX_PHRASE_WORDS, len(words) // MIN_REPEATS) + 1):
        phrase = words[-size:]
        copies = 1
        while len(words) >= size * (copies + 1) and words[-size * (copies + 1): -size * copies] == phrase:
            copies += 1
        if copies >= MIN_REPEATS:
            first = len(words) - size * copies  # index of the first word of the first copy
            return text[: spans[first + size - 1][1]].strip()
    return text


def clean_checkpoint_transcript(text: str) -> str:
    """Tiny Audio's own clean-up of a checkpoint's output (see the module's docstring)."""
    text = text.strip()
    if "<think>" in text:
        text = _CLOSED_THINK.sub("", text).strip()
    if not text:
        return text
    text = _TRAILING_CHARACTER.sub(r"\1", text)
    while _TRAILING_WORD.search(text):
        text = _TRAILING_WORD.sub(r"\1", text)
    return collapse_trailing_phrase(text)


REPEAT_PHRASE_WORDS = 4  # a phrase this long said twice in one piece is a loop, not speech
REPEAT_UNIT_TIMES = 4  # a shorter one four times in a row ("no, no, no" is still speech)


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
