"""The spoken lines of Flight of the Amazon Queen's cutaways (scripted scenes, ``*.CUT``).

File (after a 20-byte header; big-endian int16 unless said): panel mode, object count (negative:
the scene cannot be skipped), flags, uint16 offsets of the game states, of the first sentence and
of the bank names; then the objects. An object is 17 values (object number, move x/y, bank,
animation list, execute, 4 limits, special move, animation type, source object, start x/y, room,
scale), a person count and that many int16s, and, for an animated object, frames: a header and 9
values each, until a header of -2. The sentences are strings (a length byte, the text, padding to
2 bytes) from the first-sentence offset: one for the scene's entry, then one per object in order.

Object numbers: 0 or -1 Joe, > 0 a room object (a person when it has no animation list and its
image is -3/-4), -2/-3 text that is spoken (by no one the data names), -4 text only. An object is
animated when it is neither a person nor text, has no source object and ``execute`` is set.

Voice files: the scene's name cut or padded with "_" to 5 characters, the object's place in the
scene (from 1) in 2 digits (its first 2 from 100 on), then the piece number of ``voice_pieces``:
``C41B_742``, ``C1A__051``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tiny_audio.training.human.queen_dialogue import DOG_HEADER_SIZE, DialogueFormatError, read_string
from tiny_audio.training.human.queen_logic import PERSON_IMAGES, QueenLogic

_OBJECT = struct.Struct(">17h")
_FRAME_VALUES = 9  # after each frame's header: frame, speed, bank, move x/y, position x/y, scale, song
_END_OF_FRAMES = -2
JOE_OBJECTS = (0, -1)
SPOKEN_TEXT_OBJECTS = (-2, -3)
TEXT_OBJECTS = (-2, -3, -4)


@dataclass(frozen=True)
class CutawayLine:
    voice_prefix: str
    sentence: str
    object_number: int  # 0: Joe; > 0: a person object; -2/-3: spoken text with no named speaker


def cutaway_lines(name: str, data: bytes, logic: QueenLogic) -> list[CutawayLine]:
    """The sentences of cutaway file ``name`` that the game speaks, in order."""
    body = data[DOG_HEADER_SIZE:]
    _panel, count, _flags, _states, sentence_offset, _banks = struct.unpack_from(">HhhHHH", body, 0)
    base = name.upper().rsplit(".", 1)[0].ljust(5, "_")
    _entry, sentence_offset = read_string(body, sentence_offset)
    position = 12
    lines = []
    for index in range(1, abs(count) + 1):
        if position + _OBJECT.size + 2 > len(body):
            raise DialogueFormatError(f"{name}: object {index} lies past the end of the file")
        values = _OBJECT.unpack_from(body, position)
        number, animation_list, execute, source = values[0], values[4], values[5], values[12]
        position += _OBJECT.size
        (people,) = struct.unpack_from(">h", body, position)
        position += 2 + 2 * max(people, 0)
        sentence, sentence_offset = read_string(body, sentence_offset)
        number = 0 if number in JOE_OBJECTS else number
        person = not animation_list and (number == 0 or (number > 0 and logic.objects[number].image in PERSON_IMAGES))
        text = number in TEXT_OBJECTS
        if not text and source <= 0 and not person and execute:
            position = _skip_frames(body, position, name)
        speaks = number in SPOKEN_TEXT_OBJECTS or (person and source <= 0)
        if speaks and sentence != "*" and not sentence.startswith("#"):  # "#...": the credits roll
            lines.append(CutawayLine(base[:5] + f"{index:02d}"[:2], sentence, number))
    return lines


def _skip_frames(body: bytes, position: int, name: str) -> int:
    while True:
        if position + 2 > len(body):
            raise DialogueFormatError(f"{name}: animation frames run past the end of the file")
        (header,) = struct.unpack_from(">h", body, position)
        position += 2
        if header == _END_OF_FRAMES:
            return position
        position += 2 * _FRAME_VALUES
