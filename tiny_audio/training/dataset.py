"""Training data for the nano projector, generated offline and reproducibly.

    python -m tiny_audio dataset sentences                       # how many sentences are available
    python -m tiny_audio dataset build --out DIR [--sentences 10000] [--held-out 200] [--seed 0] [--jobs N]
    python -m tiny_audio dataset regenerate DIR/manifest.jsonl --out DIR2 [--check]

Text: English sentences from Debian's fortune databases (`apt-get install fortunes fortunes-min`),
cleaned (attributions, editorial brackets and speaker labels removed, lines joined), split into
sentences of 3–25 words and written out as spoken ("$5" → "five dollars", "1984" → "nineteen
eighty-four"); that spoken form is both what the engine reads and the training target. After all
the fortunes' training sentences (15,722) come WordNet's usage examples of 5 words or more
(`apt-get install wordnet-base`: "he imagined a seraphic presence in the room", ~27,000), as
sentences; the held-out set is drawn from the fortunes alone.

Speech: the engines of ``tiny_audio.training.tts`` (Piper's neural joe voice, espeak-ng, flite, festival),
then a seeded augmentation chain (speed, reverb, noise, telephone band, gain), all in numpy/scipy.

Held-out rule: a sentence is held out iff the first 8 bytes of
``sha256("tiny-audio-held-out:" + key)`` (big-endian), where ``key`` is the sentence lowercased
with everything but letters, digits and apostrophes dropped and spaces collapsed, fall below
``2**64 / 16``. It depends on nothing but the sentence, so growing the corpus never moves a
sentence across the split. ``--held-out N`` builds the N held-out sentences of smallest hash;
training never uses any held-out sentence, built or not.

Voices. Training clips: Piper joe 45 %, espeak-ng 30 % (en-us, en-gb, en-gb-x-rp, en-029,
en-us-nyc, en-gb-x-gbclan × no variant, m1–m7, f1–f3, klatt, klatt2, klatt3), flite 20 % (kal16,
slt, rms), festival 5 % (kal_diphone). Held-out clips alternate: even ones Piper joe (the training
voice, unseen sentences), odd ones a voice training never uses (``tts.HELD_OUT_ONLY``): espeak-ng
en-gb-scotland / en-gb-x-gbcwmd × f4 / f5 / klatt4 (half of them), flite awb, festival ked_diphone.

Output: ``DIR/clips/<id>.wav`` (16 kHz mono PCM16) and ``DIR/manifest.jsonl``, one JSON object
per clip with everything needed to render it again (``regenerate``). Each wav is written to a
temporary name and renamed, so a killed build leaves no half file that a rerun would take as
done; a rerun renders only the clips that are missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tiny_audio.training import tts
from tiny_audio.pipeline.audio import resample

SAMPLE_RATE = 16_000
FORTUNE_DIR = Path("/usr/share/games/fortunes")
WORDNET_DIR = Path("/usr/share/wordnet")
# WordNet's shorter usage examples are phrases ("a close weave"), not sentences.
WORDNET_MIN_WORDS = 5
# Not prose: pictures, Latin/French one-liners, Perl code.
SKIP_FILES = {"ascii-art", "translate-me", "perl"}
MIN_WORDS, MAX_WORDS = 3, 25
MAX_SECONDS = 30  # the Whisper encoder's window
HELD_OUT_SALT = "tiny-audio-held-out:"
HELD_OUT_SHARE = 16  # one sentence in 16 belongs to the held-out pool


# ----------------------------------------------------------------------------------------------
# Numbers as spoken (American English, no "and" inside numbers)
# ----------------------------------------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth",
    "eight": "eighth", "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip


def cardinal(n: int) -> str:
    """1234 → 'one thousand two hundred thirty-four'."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")
    for value, name in _SCALES:
        if n >= value:
            count, rest = divmod(n, value)
            return f"{cardinal(count)} {name}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal(n: int) -> str:
    """21 → 'twenty-first'."""
    words = cardinal(n)
    head, sep, last = max((words.rpartition(s) for s in (" ", "-")), key=lambda parts: len(parts[0]))
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year(n: int) -> str:
    """Years read in pairs: 1984 → 'nineteen eighty-four', 1900 → 'nineteen hundred',
    1905 → 'nineteen oh five'; 2000–2009 as cardinals ('two thousand five')."""
    if 2000 <= n <= 2009 or not 1100 <= n <= 2099:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    return f"{cardinal(high)} {'oh ' if low < 10 else ''}{cardinal(low)}"


def _plural(words: str) -> str:
    """'nineteen sixty' → 'nineteen sixties' (decades)."""
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _digits(text: str) -> str:
    """Digits after a decimal point, one by one: '14' → 'one four'."""
    return " ".join(_ONES[int(d)] for d in text)


def _number(text: str) -> str:
    """'1,500' → cardinal; '3.14' → 'three point one four'."""
    whole, _, frac = text.replace(",", "").partition(".")
    words = cardinal(int(whole or "0"))
    return f"{words} point {_digits(frac)}" if frac else words


def _money(match: re.Match) -> str:
    amount, scale = match["amount"].replace(",", ""), match["scale"]
    if scale:  # "$1.5 million" → "one point five million dollars"
        return f"{_number(amount)} {scale} dollars"
    dollars, _, cents = amount.partition(".")
    parts = []
    if int(dollars or "0") or not cents:
        parts.append(f"{cardinal(int(dollars or '0'))} dollar{'' if dollars == '1' else 's'}")
    if cents and int(cents):
        cents = int(cents.ljust(2, "0")[:2])
        parts.append(f"{cardinal(cents)} cent{'' if cents == 1 else 's'}")
    return " and ".join(parts)


def _time(match: re.Match) -> str:
    hour, minute = int(match["hour"]), int(match["minute"])
    if minute == 0:
        return f"{cardinal(hour)} o'clock"
    return f"{cardinal(hour)} {'oh ' if minute < 10 else ''}{cardinal(minute)}"


def _bare_number(text: str) -> str:
    if re.fullmatch(r"1[1-9]\d\d|20\d\d", text):  # four digits in 1100–2099, no comma: a year
        return year(int(text))
    return _number(text)


_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# Order matters: the specific shapes first, bare numbers last.
_NUMBER_RULES: list[tuple[re.Pattern, object]] = [
    (re.compile(rf"\$(?P<amount>{_NUM})(?: (?P<scale>thousand|million|billion|trillion)\b)?"), _money),
    (re.compile(rf"(?P<n>{_NUM}) ?%"), lambda m: f"{_number(m['n'])} percent"),
    (re.compile(r"\b(?P<hour>[012]?\d):(?P<minute>[0-5]\d)\b"), _time),
    (re.compile(r"\b(?P<n>\d+)(?:st|nd|rd|th)\b"), lambda m: ordinal(int(m["n"]))),
    (
        re.compile(rf"\b(?P<month>{_MONTHS}) (?P<n>[1-9]|[12]\d|3[01])\b"),
        lambda m: f"{m['month']} {ordinal(int(m['n']))}",
    ),
    (re.compile(r"\b(?P<n>1[1-9]\d0|20\d0)'?s\b"), lambda m: _plural(year(int(m["n"])))),
    (re.compile(r"(?<![\w'])'?(?P<n>[2-9]0)'?s\b"), lambda m: _plural(cardinal(int(m["n"])))),
    (re.compile(r"#(?P<n>\d+)\b"), lambda m: f"number {cardinal(int(m['n']))}"),
    (re.compile(rf"\b(?P<a>{_NUM})-(?P<b>{_NUM})\b"), lambda m: f"{_bare_number(m['a'])} to {_bare_number(m['b'])}"),
    (re.compile(rf"(?<![\w.]){_NUM}\b"), lambda m: _bare_number(m[0])),
]

# ----------------------------------------------------------------------------------------------
# Text → spoken form
# ----------------------------------------------------------------------------------------------

_ASCII = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": " -- ", "…": "...", " ": " "})
_ABBREVIATIONS = {
    "Mr.": "Mister", "Mrs.": "Missus", "Dr.": "Doctor", "Prof.": "Professor", "Jr.": "Junior",
    "Sr.": "Senior", "St.": "Saint", "Mt.": "Mount", "Rev.": "Reverend", "Gen.": "General",
    "Capt.": "Captain", "Sgt.": "Sergeant", "Lt.": "Lieutenant", "Gov.": "Governor",
    "Inc.": "Incorporated", "Ltd.": "Limited", "vs.": "versus", "etc.": "et cetera",
    "e.g.": "for example", "i.e.": "that is", "O.K.": "okay", "OK": "okay",
}  # fmt: skip
_ABBREVIATION_RE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")(?![\w])")
_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "%": " percent "}
# What a sentence may still contain once normalised; anything else (digits, / * _ < > …) means
# the engines would read it in ways the target text cannot say: the sentence is dropped.
_SPEAKABLE = re.compile(r"[A-Za-z][A-Za-z ,.!?;:'-]*[.!?]")
# Words in capitals (shouting, acronyms): engines disagree on spelling them out or reading them.
_CAPITALS = re.compile(r"\b(?!I\b|A\b)[A-Z]{2,}\b|\b[A-Z]\.[A-Z]\.")


def spoken_form(sentence: str) -> str | None:
    """The sentence as it is spoken — the text the engine reads and the model is trained to
    write — or None when it cannot be said unambiguously.

    Rules, in order: typographic quotes/dashes → ASCII; common abbreviations expanded (Mr. →
    Mister, e.g. → for example); money ($5.50 → five dollars and fifty cents, $2 million → two
    million dollars), percentages, clock times (10:30 → ten thirty), ordinals (21st →
    twenty-first), decades (1960s → nineteen sixties), #n → number n, ranges (1914-1918 →
    nineteen fourteen to nineteen eighteen); then bare numbers — four digits in 1100–2099 read as
    a year, others as cardinals, decimals digit by digit after "point"; & + = @ % written out;
    double quotes, parentheses and "--" become plain text or commas. Dropped: anything with words
    in capitals, leftover digits or symbols, no final . ! ?, or outside 3–25 words.
    """
    text = sentence.translate(_ASCII)
    if not text.isascii():
        return None
    text = _ABBREVIATION_RE.sub(lambda m: _ABBREVIATIONS[m[1]], text)
    if _CAPITALS.search(text):
        return None
    for pattern, replace in _NUMBER_RULES:
        text = pattern.sub(replace, text)
    text = re.sub(r"\band/or\b", "and or", text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    text = text.replace('"', " ").replace("(", " ").replace(")", " ")
    text = re.sub(r"\s*--+\s*", ", ", text)
    # A single quote that is not inside a word or a plural possessive (dogs') was a quotation mark.
    text = re.sub(r"(?<![A-Za-z])'|'(?![A-Za-z])(?<!s')", " ", text)
    text = re.sub(r"([!?])[!?]+", r"\1", text)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r",(?=[,.!?;:])", "", text)
    text = " ".join(text.split()).strip(" ,;:-")
    if not _SPEAKABLE.fullmatch(text) or not text[0].isupper():
        return None
    if re.search(r"(?<!\.)\.(?!\.)(?!$)", text):
        return None  # a lone inner period: an abbreviation left (oz., a.m.) or a failed split
    if not MIN_WORDS <= len(text.split()) <= MAX_WORDS:
        return None
    return text


# ----------------------------------------------------------------------------------------------
# Fortune files → sentences
# ----------------------------------------------------------------------------------------------

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
    text = _ABBREVIATION_RE.sub(lambda m: _ABBREVIATIONS[m[1]], text.translate(_ASCII))
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


# ----------------------------------------------------------------------------------------------
# Augmentation (numpy/scipy; every random draw comes from the generator passed in)
# ----------------------------------------------------------------------------------------------

NOISE_COLORS = ("white", "pink", "brown")
REFERENCE_PEAK = 0.5  # every clip is brought to -6 dBFS before augmentation, so gain_db is comparable
PEAK_LIMIT = 0.99


def change_speed(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (pitch moves with it, like tape): the length becomes
    len / factor. The factor is taken to two decimals."""
    from math import gcd

    from scipy.signal import resample_poly

    up, down = 100, round(factor * 100)
    divisor = gcd(up, down)
    return resample_poly(samples, up // divisor, down // divisor).astype(np.float32)


def colored_noise(length: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise whose power falls as 1/f^k: white k=0, pink k=1, brown k=2."""
    exponent = {"white": 0, "pink": 1, "brown": 2}[color]
    noise = rng.standard_normal(length)
    if exponent:
        spectrum = np.fft.rfft(noise)
        freqs = np.fft.rfftfreq(length)
        freqs[0] = freqs[1] if length > 1 else 1.0  # no infinite DC gain
        noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=length)
        noise -= noise.mean()
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)


def add_noise(samples: np.ndarray, snr_db: float, color: str, rng: np.random.Generator) -> np.ndarray:
    """Add noise at ``snr_db`` — the ratio of the clip's mean power to the noise's, in dB."""
    power = float(np.mean(samples.astype(np.float64) ** 2))
    noise = colored_noise(samples.size, color, rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return (samples + noise).astype(np.float32)


def telephone(samples: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A narrow-band phone line: 300–3400 Hz band-pass, then down to 8 kHz and back to ``rate``."""
    from scipy.signal import butter, firwin, resample_poly, sosfilt

    band = sosfilt(butter(4, [300, 3400], btype="bandpass", fs=rate, output="sos"), samples)
    # resample_poly's default 41-tap filter lets ~-30 dB through just above 4 kHz; this one is
    # steep enough to leave nothing there (< -60 dB).
    low_pass = firwin(161, 3700, window=("kaiser", 8.0), fs=rate)
    narrow = resample_poly(band, 8000, rate, window=low_pass)
    return resample_poly(narrow, rate, 8000, window=low_pass).astype(np.float32)


def impulse_response(rt60: float, drr_db: float, rng: np.random.Generator, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A synthetic room: a unit direct path followed by Gaussian noise whose amplitude decays by
    60 dB over ``rt60`` seconds, scaled so direct/reverberant energy is ``drr_db``."""
    t = np.arange(1, int(rt60 * rate)) / rate
    tail = rng.standard_normal(t.size) * np.exp(-np.log(1000) * t / rt60)
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    return np.concatenate([[1.0], tail]).astype(np.float32)


def add_reverb(samples: np.ndarray, rt60: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with ``impulse_response``; the clip keeps its length (the tail past it is cut)."""
    from scipy.signal import fftconvolve

    return fftconvolve(samples, impulse_response(rt60, drr_db, rng))[: samples.size].astype(np.float32)


def apply_gain(samples: np.ndarray, gain_db: float, peak: float = PEAK_LIMIT) -> np.ndarray:
    """Scale by ``gain_db``; if that would push the peak past ``peak``, scale to ``peak`` instead
    (no clipping, ever)."""
    out = samples * 10 ** (gain_db / 20)
    top = float(np.abs(out).max(initial=0.0))
    return (out * (peak / top) if top > peak else out).astype(np.float32)


def sample_augmentation(rng: np.random.Generator) -> dict:
    """The augmentation of one clip; {} (a clean clip) one time in five."""
    if rng.random() < 0.2:
        return {}
    augment: dict = {}
    if rng.random() < 0.5:
        factor = round(float(rng.uniform(0.9, 1.1)), 2)
        if factor != 1.0:
            augment["speed"] = factor
    if rng.random() < 0.25:
        augment["reverb"] = {
            "rt60_s": round(float(rng.uniform(0.1, 0.4)), 3),
            "drr_db": round(float(rng.uniform(2, 10)), 1),
        }
    if rng.random() < 0.5:
        augment["noise"] = {"color": str(rng.choice(NOISE_COLORS)), "snr_db": round(float(rng.uniform(10, 30)), 1)}
    if rng.random() < 0.15:
        augment["telephone"] = {"band_hz": [300, 3400], "rate": 8000}
    augment["gain_db"] = round(float(rng.uniform(-12, 6)), 1)
    return augment


def augment(samples: np.ndarray, settings: dict, seed: int) -> np.ndarray:
    """Apply ``settings`` (from ``sample_augmentation``) in a fixed order: speed, reverb, noise,
    telephone, gain. Each random step draws from its own generator, seeded by (seed, step)."""
    if "speed" in settings:
        samples = change_speed(samples, settings["speed"])
    if "reverb" in settings:
        room = settings["reverb"]
        samples = add_reverb(samples, room["rt60_s"], room["drr_db"], np.random.default_rng([seed, 1]))
    if "noise" in settings:
        noise = settings["noise"]
        samples = add_noise(samples, noise["snr_db"], noise["color"], np.random.default_rng([seed, 2]))
    if "telephone" in settings:
        samples = telephone(samples)
    if "gain_db" in settings:
        samples = apply_gain(samples, settings["gain_db"])
    return samples


def trim_silence(samples: np.ndarray, margin_s: float = 0.1, floor_db: float = -40.0) -> np.ndarray:
    """Cut leading/trailing stretches quieter than ``floor_db`` below the loudest 10 ms frame,
    keeping ``margin_s`` of them (engines pad clips with very different amounts of silence)."""
    frame = SAMPLE_RATE // 100
    count = samples.size // frame
    if count < 2:
        return samples
    rms = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (floor_db / 20))
    margin = int(margin_s * SAMPLE_RATE)
    return samples[max(0, loud[0] * frame - margin) : min(samples.size, (loud[-1] + 1) * frame + margin)]


# ----------------------------------------------------------------------------------------------
# The plan: which sentence is spoken by which voice with which settings
# ----------------------------------------------------------------------------------------------

# Bump when rendering changes: clip ids include it, so old wavs are never taken for new ones.
RENDER_VERSION = 1
# Share of training clips per engine (among the engines a build uses).
TRAIN_ENGINE_WEIGHTS = {"piper": 0.45, "espeak-ng": 0.3, "flite": 0.2, "festival": 0.05}
HELD_OUT_ENGINE_WEIGHTS = {"espeak-ng": 0.5, "flite": 0.25, "festival": 0.25}


def clip_seed(seed: int, split: str, text: str) -> int:
    digest = hashlib.sha256(f"{seed}|{split}|{sentence_key(text)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: fits any JSON reader's integers


def _pick(weights: dict[str, float], engines: Iterable[str], rng: np.random.Generator) -> str:
    names = [e for e in weights if e in engines]
    p = np.array([weights[e] for e in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def plan_clips(train: list[Sentence], held_out: list[Sentence], seed: int, engines: Iterable[str]) -> list[dict]:
    """One manifest record (without path/duration) per sentence. Every choice comes from a
    generator seeded by (build seed, split, sentence), so a sentence keeps its voice and settings
    when the build grows."""
    engines = tuple(engines)
    unseen_engines = [e for e in HELD_OUT_ENGINE_WEIGHTS if e in engines]
    records = []
    for split, sentences in (("train", train), ("held-out", held_out)):
        for index, sentence in enumerate(sentences):
            clip = clip_seed(seed, split, sentence.text)
            rng = np.random.default_rng(clip)
            if split == "train":
                engine, unseen = _pick(TRAIN_ENGINE_WEIGHTS, engines, rng), False
            else:  # alternate: Piper's training voice on unseen sentences / a voice training never hears
                unseen = bool(index % 2 or "piper" not in engines) and bool(unseen_engines)
                engine = _pick(HELD_OUT_ENGINE_WEIGHTS, unseen_engines, rng) if unseen else "piper"
            voices = (tts.HELD_OUT_ONLY if unseen else tts.TRAIN_VOICES)[engine]
            voice = voices[int(rng.integers(len(voices)))]
            record = {
                "split": split,
                "text": sentence.text,
                "source": sentence.source,
                "origin": sentence.origin,
                "engine": engine,
                "voice": voice,
                "unseen_voice": unseen,
                "synth": tts.sample_settings(engine, voice, rng),
                "augment": sample_augmentation(rng),
                "seed": clip,
                "render_version": RENDER_VERSION,
            }
            digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:8]
            prefix = "train" if split == "train" else "heldout"
            records.append({"id": f"{prefix}-{index:05d}-{digest}", **record})
    return records


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------


def render(record: dict) -> np.ndarray:
    """A manifest record → its 16 kHz int16 samples. Depends on the record alone."""
    if record.get("render_version", RENDER_VERSION) != RENDER_VERSION:
        raise ValueError(
            f"{record['id']} was made by render version {record['render_version']}, this is {RENDER_VERSION}"
        )
    raw, rate = tts.synthesize(record["engine"], record["voice"], record["text"], record["synth"])
    samples = trim_silence(resample(raw, rate, SAMPLE_RATE))
    peak = float(np.abs(samples).max(initial=0.0))
    if peak < 1e-4:
        raise RuntimeError(f"{record['engine']} produced silence for {record['text']!r}")
    samples = augment(samples * (REFERENCE_PEAK / peak), record["augment"], record["seed"])
    if samples.size > MAX_SECONDS * SAMPLE_RATE:
        raise RuntimeError(f"{samples.size / SAMPLE_RATE:.1f} s is longer than the encoder's {MAX_SECONDS} s window")
    return np.round(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write under a temporary name, then rename: a reader sees the whole file or none."""
    import soundfile as sf

    temp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        sf.write(temp, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def wav_frames(path: Path) -> int | None:
    """Sample count of a finished clip (16 kHz mono PCM16 WAV whose data chunk is as long as its
    header says), or None for anything else — missing, truncated, foreign or empty."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset, fmt = 12, None
    while offset + 8 <= len(data):
        kind, size = data[offset : offset + 4], int.from_bytes(data[offset + 4 : offset + 8], "little")
        body = data[offset + 8 : offset + 8 + size]
        if kind == b"fmt ":
            fmt = body
        elif kind == b"data":
            if len(body) != size or size == 0 or size % 2 or fmt is None:
                return None
            tag, channels, rate = (int.from_bytes(fmt[a:b], "little") for a, b in ((0, 2), (2, 4), (4, 8)))
            bits = int.from_bytes(fmt[14:16], "little")
            if tag != 1 or channels != 1 or rate != SAMPLE_RATE or bits != 16:
                return None
            return size // 2
        offset += 8 + size + (size & 1)  # chunks are padded to even sizes
    return None


def _render_job(record: dict, clips: str) -> tuple[str, str, float, str | None]:
    """Worker: render one clip into ``clips``; returns (id, engine, seconds, error)."""
    start = time.perf_counter()
    try:
        write_wav(Path(clips) / f"{record['id']}.wav", render(record))
        error = None
    except Exception as failure:  # reported per clip; one bad sentence must not stop a build
        error = f"{type(failure).__name__}: {failure}"
    return record["id"], record["engine"], time.perf_counter() - start, error


class _Progress:
    """'done/total clips, clips/s, ETA' on one stderr line, at most twice a second."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.done, self.enabled = total, 0, enabled
        self.start = self.shown = time.perf_counter()

    def step(self) -> None:
        self.done += 1
        now = time.perf_counter()
        if self.enabled and (now - self.shown > 0.5 or self.done == self.total):
            self.shown = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate else 0.0
            print(
                f"\r{self.done}/{self.total} clips  {rate:.2f} clips/s  ETA {_clock(eta)}   ",
                end="\n" if self.done == self.total else "",
                file=sys.stderr,
                flush=True,
            )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


def render_all(records: list[dict], out: Path, jobs: int | None = None, progress: bool = True) -> dict:
    """Render every record whose wav is not already finished in ``out/clips``, ``jobs`` processes
    at a time. Fills in path, samples and duration; returns timing statistics and failures."""
    import multiprocessing

    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    for stale in clips.glob(".*.partial"):  # left by a killed run
        stale.unlink(missing_ok=True)
    todo = [r for r in records if wav_frames(clips / f"{r['id']}.wav") is None]
    stats: dict = {"rendered": len(todo), "reused": len(records) - len(todo), "failed": {}, "engines": {}}
    meter = _Progress(len(todo), enabled=progress and bool(todo))
    start = time.perf_counter()
    if todo:
        # spawn: workers start clean (no model, thread pool or lock inherited from the parent).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs or os.cpu_count(), mp_context=context) as pool:
            futures = [pool.submit(_render_job, r, str(clips)) for r in todo]
            for future in as_completed(futures):
                clip_id, engine, seconds, error = future.result()
                if error:
                    stats["failed"][clip_id] = error
                timing = stats["engines"].setdefault(engine, {"clips": 0, "seconds": 0.0})
                timing["clips"] += 1
                timing["seconds"] += seconds
                meter.step()
    stats["wall_s"] = time.perf_counter() - start
    for record in records:
        frames = wav_frames(clips / f"{record['id']}.wav")
        record["path"] = f"clips/{record['id']}.wav"
        record["samples"] = frames
        record["duration"] = round(frames / SAMPLE_RATE, 4) if frames else None
    return stats


def write_manifest(path: Path, records: Iterable[dict]) -> None:
    """JSON lines, written to a temporary file and renamed into place."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with open(temp, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    os.replace(temp, path)


def read_manifest(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------


def build(
    out: Path,
    sentences: int = 10_000,
    held_out: int = 200,
    seed: int = 0,
    jobs: int | None = None,
    engines: Iterable[str] = tts.ENGINES,
    fortunes: Path = FORTUNE_DIR,
    progress: bool = True,
    wordnet: Path | None = WORDNET_DIR,
) -> tuple[list[dict], dict]:
    """Build (or finish building) a data set in ``out``; returns (manifest records, statistics)."""
    engines = tuple(engines)
    for engine in engines:
        tts.check_engine(engine)
    if not fortunes.is_dir():
        raise FileNotFoundError(f"no fortune databases in {fortunes}: apt-get install -y fortunes fortunes-min")
    train, held, corpus_size = training_pool(fortunes, wordnet, seed)
    if len(train) < sentences or len(held) < held_out:
        hint = "" if wordnet is None or wordnet.is_dir() else " (apt-get install -y wordnet-base adds WordNet's examples)"
        raise ValueError(
            f"asked for {sentences} training + {held_out} held-out sentences; "
            f"the corpus gives {len(train)} + {len(held)}{hint}"
        )
    records = plan_clips(train[:sentences], held[:held_out], seed, engines)
    out.mkdir(parents=True, exist_ok=True)
    stats = render_all(records, out, jobs, progress)
    done = [r for r in records if r["samples"]]
    write_manifest(out / "manifest.jsonl", done)
    stats.update(corpus=corpus_size, train_pool=len(train), held_out_pool=len(held), clips=len(done))
    return done, stats


def regenerate(manifest: Path, out: Path, jobs: int | None = None, progress: bool = True) -> tuple[list[dict], dict]:
    """Render every clip of ``manifest`` again, from its recorded settings alone, into ``out``."""
    records = [
        {k: v for k, v in r.items() if k not in ("path", "samples", "duration")} for r in read_manifest(manifest)
    ]
    for engine in sorted({r["engine"] for r in records}):
        tts.check_engine(engine)
    out.mkdir(parents=True, exist_ok=True)
    stats = render_all(records, out, jobs, progress)
    write_manifest(out / "manifest.jsonl", [r for r in records if r["samples"]])
    return records, stats


def compare_clips(first: Path, second: Path, records: Iterable[dict]) -> dict[str, float]:
    """Largest absolute sample difference (int16 units) per clip that differs between two builds;
    a clip missing or of another length counts as infinitely different."""
    import soundfile as sf

    differences = {}
    for record in records:
        a, b = (sf.read(root / record["path"], dtype="int16")[0] if (root / record["path"]).exists() else None
                for root in (first, second))  # fmt: skip
        if a is None or b is None or a.shape != b.shape:
            differences[record["id"]] = float("inf")
        elif not np.array_equal(a, b):
            differences[record["id"]] = float(np.abs(a.astype(np.int32) - b).max())
    return differences


def _report(records: list[dict], stats: dict, out: Path) -> None:
    print(
        f"{out}: {len(records)} clips in the manifest ({stats['rendered']} rendered, {stats['reused']} already there)"
    )
    if records:
        hours = sum(r["duration"] for r in records) / 3600
        size = sum((out / r["path"]).stat().st_size for r in records)
        per_split = Counter(r["split"] for r in records)
        print(
            f"  audio: {hours:.2f} h; {size / 2**20:.1f} MiB ({size / len(records) * 1000 / 2**20:.0f} MiB per 1,000 clips)"
        )
        print("  " + ", ".join(f"{split}: {count}" for split, count in sorted(per_split.items())))
    for engine, timing in sorted(stats["engines"].items()):
        print(
            f"  {engine:10s} {timing['clips']:6d} clips, {timing['seconds'] / timing['clips']:.3f} s of one core per clip"
        )
    if stats["rendered"]:
        print(f"  wall time {stats['wall_s']:.1f} s: {stats['rendered'] / stats['wall_s']:.2f} clips/s")
    for clip_id, error in sorted(stats["failed"].items()):
        print(f"  FAILED {clip_id}: {error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tiny_audio dataset", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    sentences = commands.add_parser("sentences", help="count (and optionally write) the available sentences")
    sentences.add_argument("--fortunes", type=Path, default=FORTUNE_DIR)
    sentences.add_argument("--wordnet", type=Path, default=WORDNET_DIR, help="WordNet's dict directory")
    sentences.add_argument("--seed", type=int, default=0)
    sentences.add_argument("--out", type=Path, help="write them as JSON lines (text, source, origin, split)")

    build_cmd = commands.add_parser("build", help="synthesise a data set (resumes an unfinished one)")
    build_cmd.add_argument("--out", type=Path, required=True)
    build_cmd.add_argument("--sentences", type=int, default=10_000, help="training clips (one per sentence)")
    build_cmd.add_argument("--held-out", type=int, default=200, help="held-out clips (one per sentence)")
    build_cmd.add_argument("--seed", type=int, default=0)
    build_cmd.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes (default: all cores)")
    build_cmd.add_argument("--engines", default=",".join(tts.ENGINES), help="comma-separated subset of the engines")
    build_cmd.add_argument("--fortunes", type=Path, default=FORTUNE_DIR, help="directory of fortune files")
    build_cmd.add_argument("--wordnet", type=Path, default=WORDNET_DIR,
                           help="WordNet's dict directory: its usage examples follow the fortunes")

    regen = commands.add_parser("regenerate", help="render a manifest's clips again from their recorded settings")
    regen.add_argument("manifest", type=Path)
    regen.add_argument("--out", type=Path, required=True)
    regen.add_argument("--jobs", type=int, default=os.cpu_count())
    regen.add_argument("--check", action="store_true", help="compare with the manifest's clips; exit 1 if any differ")

    args = parser.parse_args(argv)
    try:
        if args.command == "sentences":
            train, held, corpus_size = training_pool(args.fortunes, args.wordnet, args.seed)
            print(f"{corpus_size} distinct sentences: {len(train)} for training, {len(held)} held out")
            for origin, count in Counter(s.origin for s in train + held).most_common():
                print(f"  {origin:22s} {count:6d}")
            if args.out:
                rows = [{**vars(s), "split": "train"} for s in train] + [{**vars(s), "split": "held-out"} for s in held]
                write_manifest(args.out, rows)
            return 0
        if args.command == "build":
            engines = [e.strip() for e in args.engines.split(",") if e.strip()]
            records, stats = build(
                args.out, args.sentences, args.held_out, args.seed, args.jobs, engines, args.fortunes,
                wordnet=args.wordnet,
            )
            print(
                f"{stats['corpus']} sentences available ({stats['train_pool']} training, {stats['held_out_pool']} held-out pool)"
            )
            _report(records, stats, args.out)
            return 1 if stats["failed"] else 0
        records, stats = regenerate(args.manifest, args.out, args.jobs)
        _report([r for r in records if r["samples"]], stats, args.out)
        if args.check:
            differences = compare_clips(args.manifest.parent, args.out, records)
            print(f"  identical to {args.manifest.parent}: {len(records) - len(differences)}/{len(records)}")
            for clip_id, diff in sorted(differences.items()):
                print(f"  differs: {clip_id} (max |difference| {diff})")
            return 1 if differences or stats["failed"] else 0
        return 1 if stats["failed"] else 0
    except (tts.EngineMissing, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
