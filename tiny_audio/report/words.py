"""A transcript against its reference: word error rate and an aligned word diff.

Words are compared lower-cased with punctuation dropped (``"Fox."`` matches ``"fox"``); the
alignment is the usual Levenshtein one over words, so substitutions, deletions and insertions
add up to the errors the rate counts.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_WORD = re.compile(r"[a-z0-9']+")


class WordEdit(NamedTuple):
    op: str  # "same", "sub" (a word heard as another), "del" (missed), "ins" (added)
    reference: str  # the reference word ("" for an insertion)
    hypothesis: str  # the transcript's word ("" for a deletion)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def align_words(reference: str, hypothesis: str) -> list[WordEdit]:
    """The fewest edits turning ``reference`` into ``hypothesis``, word by word, in order."""
    ref, hyp = words(reference), words(hypothesis)
    # cost[i][j]: edits between ref[:i] and hyp[:j]
    cost = [[i + j if i == 0 or j == 0 else 0 for j in range(len(hyp) + 1)] for i in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            cost[i][j] = min(cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]), cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    edits, i, j = [], len(ref), len(hyp)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            edits.append(WordEdit("same" if ref[i - 1] == hyp[j - 1] else "sub", ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            edits.append(WordEdit("del", ref[i - 1], ""))
            i -= 1
        else:
            edits.append(WordEdit("ins", "", hyp[j - 1]))
            j -= 1
    return edits[::-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Errors (substitutions + deletions + insertions) per reference word; 0 for two empty texts."""
    edits = align_words(reference, hypothesis)
    errors = sum(edit.op != "same" for edit in edits)
    count = len(words(reference))
    return errors / count if count else float(errors > 0)


def word_diff(reference: str, hypothesis: str) -> str:
    """The transcript's words against the reference, as Markdown: ~~missed~~ and **heard instead**."""
    parts = []
    for edit in align_words(reference, hypothesis):
        if edit.op == "same":
            parts.append(edit.reference)
        elif edit.op == "sub":
            parts.append(f"~~{edit.reference}~~ **{edit.hypothesis}**")
        elif edit.op == "del":
            parts.append(f"~~{edit.reference}~~")
        else:
            parts.append(f"**{edit.hypothesis}**")
    return " ".join(parts)
