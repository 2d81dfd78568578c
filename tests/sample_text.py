"""Sentences for tests, and a fortune database made of them (the dataset builder's input)."""

import itertools
from pathlib import Path


def synthetic_sentences(count):
    words = itertools.product(
        ("old", "young", "tired", "happy", "quiet", "clever"),
        ("dog", "teacher", "farmer", "painter", "sailor"),
        ("found", "painted", "carried", "watched", "lost"),
        ("a red kite", "the blue door", "some warm bread", "an empty box", "the long letter"),
    )
    return [f"The {a} {b} {c} {d}." for a, b, c, d in itertools.islice(words, count)]


def write_fortunes(directory: Path, count: int) -> Path:
    """A fortune file of ``count`` synthetic sentences, each with an attribution line to strip."""
    entries = [f"{s}\n\t\t-- Somebody Famous\n" for s in synthetic_sentences(count)]
    (directory / "sample").write_text("%\n".join(entries))
    return directory
