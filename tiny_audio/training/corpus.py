"""The sentences a data set is made of: Debian's fortune databases, then WordNet's usage examples.

Fortune entries (`apt-get install fortunes fortunes-min`) are cleaned (attributions, editorial
brackets and speaker labels removed, lines joined) and split into sentences; WordNet's quoted
usage examples of 5 words or more (`apt-get install wordnet-base`) are made into sentences. Each
is kept in its spoken form (``tiny_audio.training.spoken``), deduplicated case- and
punctuation-blind.

Held-out rule: a sentence is held out iff the first 8 bytes of
``sha256("tiny-audio-held-out:" + key)`` (big-endian), where ``key`` is the sentence lowercased
with everything but letters, digits and apostrophes dropped and spaces collapsed, fall below
``2**64 / 16``. It depends on nothing but the sentence, so growing the corpus never moves a
sentence across the split.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tiny_audio.training.spoken import expand_abbreviations, spoken_form, to_ascii

FORTUNE_DIR = Path("/usr/share/games/fortunes")
WORDNET_DIR = Path("/usr/share/wordnet")
# WordNet's shorter usage examples are phrases ("a close weave"), not sentences.
WORDNET_MIN_WORDS = 5
# Not prose: pictures, Latin/French one-liners, Perl code.
SKIP_FILES = {"ascii-art", "translate-me", "perl"}
HELD_OUT_SALT = "tiny-audio-held-out:"
HELD_OUT_SHARE = 16  # one sentence in 16 belongs to the held-out pool


_ATTRIBUTION = re.compile(r"^\s*--")  # "\t\t-- Mark Twain": the rest of the entry is the source
_SPEAKER = re.compile(r"^\s*(?:[A-Z][\w.']*(?: [A-Z][\w.']*){0,2}|[QA]):\s+")  # "Kirk: ...", "Q: ..."
_LIST_MARKER = re.compile(r"^(?:\(?\d{1,2}[.)]|\([a-z]\)|[-*+o])\s+")  # "1. ", "(2) ", "- "
_ALWAYS_CAPITAL = {"I", "I'm", "I'll", "I've", "I'd", "God"}
_BRACKETS = re.compile(r"\[[^\]]*\]|\{[^}]*\}|<[^>]*>")
# Sentence ends: . ! ? (maybe closing quotes/brackets), whitespace, then a capital or an opening quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(]*[A-Z])")


def fortune_entries(directory: Path = FORTUNE_DIR) -> Iterator[tuple[str, str]]:
    """(file name, raw entry) for every entry of every fortune text file in ``directory``."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.suffix and p.name not in SKIP_FILES)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for entry in re.split(r"^%\s*$", text, flags=re.MULTILINE):
            if entry.strip():
                yield path.name, entry


def clean_entry(entry: str) -> str | None:
    """One fortune entry → a single line of prose, or None for entries that are not prose
    (control characters such as overstrike, code, pictures)."""
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", entry):
        return None
    lines = []
    for line in entry.splitlines():
        if _ATTRIBUTION.match(line):
            break
        stripped = line.strip()
        if not stripped:
            continue
        letters = sum(c.isalnum() or c.isspace() for c in stripped)
        if letters < 0.8 * len(stripped) or re.search(r"[{};\\|^~`<>]|[=_*#]{2}|\s{4}\S+\s{4}", stripped):
            return None  # ASCII art, code, tables: drop the whole entry
        lines.append(_LIST_MARKER.sub("", _SPEAKER.sub("", stripped)))
    # Verse capitalises every line; wrapped prose rarely starts a line with a capital mid-sentence.
    verse = len(lines) >= 3 and sum(line[:1].isupper() for line in lines) >= 0.6 * len(lines)
    for i in range(1, len(lines)) if verse else ():
        first = lines[i].split(" ", 1)[0]
        if not re.search(r"[.!?:]$", lines[i - 1]) and first not in _ALWAYS_CAPITAL:
            lines[i] = lines[i][:1].lower() + lines[i][1:]
    text = _BRACKETS.sub(" ", " ".join(lines))
    text = re.sub(r"\(\d{1,2}\)", " ", text)  # inline list markers: "two things: (1) Be content ..."
    return " ".join(text.split()) or None


def split_sentences(text: str) -> list[str]:
    """Split prose at . ! ? followed by a capital; abbreviations are expanded before this runs."""
    text = expand_abbreviations(to_ascii(text))
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def sentence_key(text: str) -> str:
    """Case- and punctuation-blind identity of a sentence (deduplication, held-out hash)."""
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def held_out_hash(text: str) -> int:
    digest = hashlib.sha256((HELD_OUT_SALT + sentence_key(text)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def is_held_out(text: str) -> bool:
    """The fixed held-out rule (see the module docstring); depends on the sentence alone."""
    return held_out_hash(text) < 2**64 // HELD_OUT_SHARE


@dataclass(frozen=True)
class Sentence:
    text: str  # spoken form: what is read and what the model learns to write
    source: str  # the sentence as its source has it
    origin: str  # "fortunes/<file>" or "wordnet/<part of speech>"


def extract_sentences(entries: Iterable[tuple[str, str]]) -> list[Sentence]:
    """Distinct speakable sentences (case- and punctuation-insensitive), first occurrence kept,
    in a fixed order (by key) so that shuffling with a seed is reproducible."""
    seen: dict[str, Sentence] = {}
    for origin, entry in entries:
        prose = clean_entry(entry)
        if prose is None:
            continue
        for source in split_sentences(prose):
            text = spoken_form(source)
            if text is not None:
                seen.setdefault(sentence_key(text), Sentence(text, source, f"fortunes/{origin}"))
    return [seen[key] for key in sorted(seen)]


def wordnet_examples(directory: Path = WORDNET_DIR) -> Iterator[tuple[str, str]]:
    """(part of speech, usage example) for every quoted example in WordNet's glosses
    (``apt-get install wordnet-base``): "he imagined a seraphic presence in the room"."""
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (directory / f"data.{pos}").read_text(encoding="utf-8", errors="replace").splitlines():
            if line[:1].isdigit() and " | " in line:  # synset lines; the licence header starts with spaces
                for example in re.findall(r'"([^"]+)"', line.split(" | ", 1)[1]):
                    yield pos, example


def example_sentences(examples: Iterable[tuple[str, str]], exclude: Iterable[str] = ()) -> list[Sentence]:
    """Distinct speakable usage examples of at least ``WORDNET_MIN_WORDS`` words, as sentences
    (first letter capitalised, a final period added), minus the keys in ``exclude``; by key."""
    seen: dict[str, Sentence] = {}
    excluded = set(exclude)
    for pos, example in examples:
        source = " ".join(example.split()).rstrip(" ,;:")
        if len(source.split()) < WORDNET_MIN_WORDS:
            continue
        text = spoken_form(source[0].upper() + source[1:] + ("" if source[-1] in ".!?" else "."))
        if text is not None and sentence_key(text) not in excluded:
            seen.setdefault(sentence_key(text), Sentence(text, source, f"wordnet/{pos}"))
    return [seen[key] for key in sorted(seen)]


def corpus_splits(sentences: list[Sentence], seed: int) -> tuple[list[Sentence], list[Sentence]]:
    """(training pool shuffled with ``seed``, held-out pool by ascending hash)."""
    held = sorted((s for s in sentences if is_held_out(s.text)), key=lambda s: held_out_hash(s.text))
    train = [s for s in sentences if not is_held_out(s.text)]
    random.Random(seed).shuffle(train)
    return train, held


def training_pool(fortunes: Path, wordnet: Path | None, seed: int) -> tuple[list[Sentence], list[Sentence], int]:
    """(training pool, held-out pool, corpus size). The fortunes come first, then WordNet's
    examples where installed: a build of N sentences is the same whether WordNet is there or
    not, and a larger one adds WordNet sentences after all the fortunes. The held-out pool is
    the fortunes' alone (so the held-out set stays put); WordNet sentences that fall under the
    held-out rule are used nowhere."""
    corpus = extract_sentences(fortune_entries(fortunes))
    train, held = corpus_splits(corpus, seed)
    if wordnet is not None and wordnet.is_dir():
        examples = example_sentences(wordnet_examples(wordnet), exclude=(sentence_key(s.text) for s in corpus))
        extra, _ = corpus_splits(examples, seed)
        train, corpus = train + extra, corpus + examples
    return train, held, len(corpus)
