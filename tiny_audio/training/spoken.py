"""Sentences written out as they are spoken: the text an engine reads and the model learns to write.

    spoken_form("It cost $5.50 on the 21st.")  ->  "It cost five dollars and fifty cents on the twenty-first."

Numbers follow American English, with no "and" inside them; anything that cannot be said one
way only (words in capitals, leftover digits or symbols) makes ``spoken_form`` return None.
"""

from __future__ import annotations

import re

MIN_WORDS, MAX_WORDS = 3, 25

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


def to_ascii(text: str) -> str:
    """Typographic quotes, dashes and ellipses → their ASCII forms."""
    return text.translate(_ASCII)


def expand_abbreviations(text: str) -> str:
    """Mr. → Mister, e.g. → for example, ...: afterwards, a period ends a sentence or nothing."""
    return _ABBREVIATION_RE.sub(lambda m: _ABBREVIATIONS[m[1]], text)


def spell_out(text: str) -> str:
    """Numbers, money, times, ordinals, decades, ranges and the symbols & + = @ % in words (the
    rules of ``spoken_form``); anything else is left as it is."""
    for pattern, replace in _NUMBER_RULES:
        text = pattern.sub(replace, text)
    text = re.sub(r"\band/or\b", "and or", text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    return text


def tidy_punctuation(text: str) -> str:
    """Double quotes and parentheses dropped, "--" as a comma, quotation marks made of single
    quotes dropped (apostrophes kept), "!!"/"?!" as one mark, no space before punctuation, no
    comma before another mark, single spaces, no leading/trailing , ; : -."""
    text = text.replace('"', " ").replace("(", " ").replace(")", " ")
    text = re.sub(r"\s*--+\s*", ", ", text)
    # A single quote that is not inside a word or a plural possessive (dogs') was a quotation mark.
    text = re.sub(r"(?<![A-Za-z])'|'(?![A-Za-z])(?<!s')", " ", text)
    text = re.sub(r"([!?])[!?]+", r"\1", text)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r",(?=[,.!?;:])", "", text)
    return " ".join(text.split()).strip(" ,;:-")


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
    text = to_ascii(sentence)
    if not text.isascii():
        return None
    text = expand_abbreviations(text)
    if _CAPITALS.search(text):
        return None
    text = tidy_punctuation(spell_out(text))
    if not _SPEAKABLE.fullmatch(text) or not text[0].isupper():
        return None
    if re.search(r"(?<!\.)\.(?!\.)(?!$)", text):
        return None  # a lone inner period: an abbreviation left (oz., a.m.) or a failed split
    if not MIN_WORDS <= len(text.split()) <= MAX_WORDS:
        return None
    return text
