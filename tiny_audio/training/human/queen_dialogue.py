"""Flight of the Amazon Queen's spoken sentences: how one sentence becomes voice files, and the
sentences of the dialogue files (``*.DOG``).

A sentence is subtitle text with commands: ``*`` and two characters (``*FL``, ``*03``; ``*XY``
takes 11 more: ``*XY00(237,112)``). The game cuts the sentence at each command and plays one
voice file per piece: ``<prefix><n>.SB``, ``n`` counting the pieces from 1 in hex. Commands
"GD"/"GM" (Joe grabs) still count as a piece but play nothing. Pieces with no text have no
file. ``voice_pieces(prefix, sentence)`` lists (voice-file name, text).

Dialogue file (after a 20-byte header; integers big-endian, int16 unless said): level count
(negative: the dialogue cannot be left), unique key, talk key, Joe's sentence count, the
person's sentence count, 2 x (game state, test value, item), uint16 offsets of the person's
sentences, of the cutaway and of the "talked before" pair; the dialogue tree (96 bytes a level)
from byte 32, then Joe's sentences. A sentence list entry is 2 bytes, an int16 id, and a string:
a length byte and the text, padded so the next entry starts on a multiple of 4. The "talked
before" pair is two strings padded to multiples of 2.

Voice-file prefixes (talk key in 2 decimal digits, id in 4 hex digits, spaces read as zeros):
Joe's opening line (id 0) ``<key>SSSSJ``, Joe's line ``<key><id>J``, the person's line
``<key><id>P``, the "talked before" lines ``<key>XXXXP`` (person) and ``<key>XXXXJ`` (Joe).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DOG_HEADER_SIZE = 20
_PLAY_NOTHING = {"GD", "GM"}
TEXT_ENCODING = "latin-1"


class DialogueFormatError(ValueError):
    """A dialogue or cutaway file is not laid out as described here."""


def read_string(data: bytes, offset: int, align: int = 2) -> tuple[str, int]:
    """(text, offset of what follows): a length byte, the text, padding to ``align``."""
    if offset >= len(data):
        raise DialogueFormatError(f"string at byte {offset} lies past the end ({len(data)} bytes)")
    length = data[offset]
    offset += 1
    text = data[offset : offset + length].decode(TEXT_ENCODING)
    if length:
        offset = (offset + length + align - 1) & ~(align - 1)
    return text, offset


def voice_pieces(prefix: str, sentence: str) -> list[tuple[str, str]]:
    """(voice-file name without ".SB", piece text) for each piece of ``sentence`` that has text."""
    pieces: list[tuple[int, str]] = []
    index, start, count = 0, 0, 0
    while index < len(sentence):
        if sentence[index] != "*":
            index += 1
            continue
        text = sentence[start:index]
        command = sentence[index + 1 : index + 3]
        index += 3 + (11 if command == "XY" else 0)
        count += 1
        if command not in _PLAY_NOTHING:
            pieces.append((count, text))
        start = index
    if start < len(sentence):
        pieces.append((count + 1, sentence[start:]))
    name = prefix.replace(" ", "0").upper()
    return [(f"{name}{number:X}", text.strip()) for number, text in pieces if text.strip()]


@dataclass(frozen=True)
class DialogueLine:
    voice_prefix: str
    sentence: str
    by_joe: bool  # else the dialogue's person speaks


def dialogue_lines(data: bytes) -> list[DialogueLine]:
    """Every sentence of a ``*.DOG`` file (header included in ``data``) with its voice prefix."""
    body = data[DOG_HEADER_SIZE:]
    if len(body) < 32:
        raise DialogueFormatError(f"dialogue file of {len(data)} bytes has no header")
    levels, _unique, talk_key, joe_count, person_count = struct.unpack_from(">5h", body, 0)
    person_offset, _cutaway_offset, again_offset = struct.unpack_from(">3H", body, 22)
    lines: list[DialogueLine] = []
    offset = 32 + abs(levels) * 96
    for sentence_id, sentence in _sentences(body, offset, joe_count):
        prefix = f"{talk_key:2d}SSSSJ" if sentence_id == 0 else f"{talk_key:2d}{sentence_id:4x}J"
        lines.append(DialogueLine(prefix, sentence, True))
    for sentence_id, sentence in _sentences(body, person_offset, person_count):
        lines.append(DialogueLine(f"{talk_key:2d}{sentence_id:4x}P", sentence, False))
    person_again, offset = read_string(body, again_offset)
    joe_again, _ = read_string(body, offset)
    lines.append(DialogueLine(f"{talk_key:2d}XXXXP", person_again, False))
    lines.append(DialogueLine(f"{talk_key:2d}XXXXJ", joe_again, True))
    return lines


def _sentences(body: bytes, offset: int, count: int) -> list[tuple[int, str]]:
    found = []
    for _ in range(count):
        if offset + 4 > len(body):
            raise DialogueFormatError(f"sentence list runs past the end of the file ({len(body)} bytes)")
        (sentence_id,) = struct.unpack_from(">h", body, offset + 2)
        text, offset = read_string(body, offset + 4, align=4)
        found.append((sentence_id, text))
    return found
