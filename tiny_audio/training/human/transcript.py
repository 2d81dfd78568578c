"""A game's subtitle line → the transcript a person would write for the clip, or the reason it
cannot be one.

    names = names_in_texts(texts) | set(DRASCULA_NAMES)        # what stays capitalised
    transcript(line, names)  # -> ("Hi window, are you doing anything tonight?", None)
                             # or (None, "non-word") for "Ooh, uck uck UNGH!"

Case: a line with no lower-case letter (all of Drascula's) is lower-cased; elsewhere only the
words with two or more capitals are ("At least MY plane" → "my"). Then names, acronyms and "I"
get their capitals back and each sentence starts with one. Numbers are written out by the
rules of ``spoken_form`` (``spell_out``), abbreviations expanded ("OK" → "okay"), quotes and
doubled marks tidied, and every transcript ends with . ! ? or "...".

Lines dropped, by the first rule they meet (``DROP_REASONS``): stage directions in brackets
("(WHISTLE)"); numbers with a decimal point or a colon (prices, clock times: read more than
one way); digits left after spelling out ("2B or not 2B"); a word with no vowel ("Grrrr",
"Hmmm", "Pssst"); a letter three times in a row or a syllable thrice ("NOOO", "OOOOKAY",
"DUBIDUBIDU"); a call, laugh or made-up noise (``NON_WORDS``), or a lone letter (a spelling
puzzle's "O"); nothing left.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from tiny_audio.training.spoken import expand_abbreviations, spell_out, tidy_punctuation, to_ascii

DROP_REASONS = ("stage direction", "ambiguous number", "digits", "no vowel", "stretched", "non-word", "empty")
# Acronyms the games say letter by letter; kept in capitals in either game.
ACRONYMS = ("TV", "CD", "ID", "IQ", "IQs", "B.J.")
# Drascula's subtitles are all capitals: its names, places and other capitalised words, as they
# are written (several words for one name: "wonder" alone is a verb).
DRASCULA_NAMES = (
    "John Hacker", "John", "Hacker", "Johnny", "Drascula", "Igor", "Von Braun", "Desiderio",
    "Billie Jean", "Constantino", "Fernan", "Fernando Lancha", "Ganimedes", "Fruskynstein",
    "Evaristo", "Pelayo", "Alucsard", "Miguel", "Garcia", "Emma", "Microchof", "Choifrusky",
    "Emilio de Paz", "Stevie Wonder", "Woody Allen", "Tchaikovsky", "Plato", "Hamlet", "Juliet",
    "Yoda", "Elvis", "McGyver", "Superman", "Margaret", "Thatchers", "El Coyote", "Sleeping Beauty",
    "Transilvania", "Transilvanian", "Gibraltar", "Oxford University", "Oxford", "Danube", "Tibet",
    "South America", "America", "British", "Japanese", "French", "Christmas", "Kleenex", "God", "Jesus",
)  # fmt: skip
# Calls, laughs and made-up noises of the two games (the ape's and the chief's tongue, the dog,
# the parrot, a cipher), lower case. Words of no vowel or with stretched letters need no entry.
NON_WORDS = frozenset(
    """
    ha hah haar heh hee hic ho hu bla ack ptooie koff yow beep eurgh urgh ugh yech jamm
    woof wof ruff aroof whoof rowr arf squawk sqwawk squark squaark warrk faark aark waaark
    unga ungha ungh ungana ungola chunga chungola chunawa kachunga shunga sunga punga hunga kunga
    wanga tawanga tuwanga warunga whunga changa chokana choonaga choop choo garoop aroo aroop eep
    oop ooop reeek waroni waroonie whoonie wareep urumpi utani tusani pootan pootani potoonie ugga
    uck ook nuk moop nark whoop whoo hup nya nyah gsrh hvxivg nvhhztv
    """.split()
)
_LETTER_WORDS = {a.upper().rstrip(".") for a in ACRONYMS}
# Titles the games write without a period (spoken_form's abbreviations take them with one).
_TITLE_WORDS = {"Mr": "Mister", "Mrs": "Missus", "Dr": "Doctor"}
_TITLES = re.compile(r"\b(?:Mrs|Mr|Dr)\b(?!\.)")
_WORD = re.compile(r"[A-Za-z]+(?:['.][A-Za-z]+)*")
_VOWEL = re.compile(r"[aeiouy]")
_STRETCHED = re.compile(r"([a-z])\1\1|([a-z]{2,4})\2\2")
_SENTENCE_END = re.compile(r"[.!?]")


def transcript(line: str, names: Iterable[str] = ()) -> tuple[str | None, str | None]:
    """(transcript, None), or (None, the first of ``DROP_REASONS`` the line meets)."""
    text = _ascii(line)
    shouted = not any(c.islower() for c in text)
    if re.search(r"[()<>\[\]]", text):
        return None, "stage direction"
    if re.search(r"\d[.:]\d", text):
        return None, "ambiguous number"
    text = spell_out(expand_abbreviations(_TITLES.sub(lambda m: _TITLE_WORDS[m[0]], text)))
    if re.search(r"\d", text):
        return None, "digits"
    words = [w.lower() for w in _WORD.findall(text) if w.upper() not in _LETTER_WORDS]
    for reason, rejects in (
        ("no vowel", lambda w: not _VOWEL.search(w)),
        ("stretched", lambda w: _STRETCHED.search(w)),
        ("non-word", lambda w: w.split("'")[0] in NON_WORDS or (len(words) == 1 and len(w) == 1)),
    ):
        if any(rejects(w) for w in words):
            return None, reason
    if not words:
        return None, "empty"
    return _finish(recase(_tidy(text), names, shouted)), None


def recase(text: str, names: Iterable[str] = (), shouted: bool | None = None) -> str:
    """Capitals as a transcript has them: shouted or emphasised words lower-cased, then
    ``names`` and ``ACRONYMS`` as written, "I" and each sentence's first letter capitalised.
    ``shouted`` (default: the text has no lower-case letter) lower-cases every word."""
    if shouted is None:
        shouted = not any(c.islower() for c in text)
    if shouted:
        text = text.lower()
    else:
        text = _WORD.sub(lambda m: m[0].lower() if sum(c.isupper() for c in m[0]) > 1 else m[0], text)
    for name in sorted({*names, *ACRONYMS}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w']){re.escape(name)}(?![A-Za-z])", name, text, flags=re.IGNORECASE)
    text = re.sub(r"\bi\b", "I", text)
    text = re.sub(r"(?<!\.\.)([.!?] +)([a-z])", lambda m: m[1] + m[2].upper(), text)
    return text[:1].upper() + text[1:]


def names_in_texts(texts: Iterable[str]) -> set[str]:
    """Words that mixed-case ``texts`` write capitalised inside a sentence ("Joe", "Floda") and
    never in lower case: a game's own names, found in its own lines."""
    capitalised, lower = set(), set()
    for text in texts:
        start = True
        for match in re.finditer(rf"{_WORD.pattern}|{_SENTENCE_END.pattern}", text):
            word = match[0]
            if _SENTENCE_END.fullmatch(word):
                start = True
                continue
            stem = word.split("'")[0]
            if stem.islower():
                lower.add(stem)
            elif not start and stem[:1].isupper() and any(c.islower() for c in stem):
                capitalised.add(stem if stem[1:].islower() else stem.capitalize())  # "KeVIn" → "Kevin"
            start = False
    return {word for word in capitalised if word.lower() not in lower}


def _ascii(text: str) -> str:
    """Typographic marks as ASCII, accents dropped ("TOUPEÉ" → "TOUPEE")."""
    decomposed = unicodedata.normalize("NFKD", to_ascii(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _tidy(text: str) -> str:
    text = re.sub(r"\.{2,}", "...", text)
    text = re.sub(r"([!?])[.,](?!\.)", r"\1", text)  # "EVIL!." → "EVIL!", "WHAT?, BUT" → "WHAT? BUT"
    text = re.sub(r"([,!?]|\.\.\.)(?=[A-Za-z])", r"\1 ", text)  # "IS...THAT", "HA,HA"
    return tidy_punctuation(text).lstrip(".!?, ")


def _finish(text: str) -> str:
    text = text.rstrip(" ,;:-")
    return text if text.endswith((".", "!", "?")) else text + "."
