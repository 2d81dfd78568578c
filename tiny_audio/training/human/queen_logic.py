"""What Flight of the Amazon Queen's logic files say about speakers and Joe's own lines.

``QUEEN2.JAS`` is text, one string a line (CR LF): object descriptions, object names, room
names, 12 verbs, 40 Joe responses, actor animations, actor names, actor files. ``QUEEN.JAS``
(after a 20-byte header; big-endian) holds the counts and records; read here are its objects
(16 bytes: name, x, y, description, entry object, room, state, image; image -3/-4 marks a person)
and its actors (24 bytes: room, person number in the room, name, game-state slot and value,
colour, frame, x, y, animation, bank, file). The records between them are skipped by their
sizes; the five command tables hold one record even when their count is 0. After the actors come
the graphic animations (6 bytes each, one even when none) and the game's version string
("CEM10"), which ``version`` holds: finding it there proves every size above was right.

Joe's responses and object descriptions play ``JOE<number:04>`` voice files, descriptions
numbered after the 40 responses.

The game names a speaking person by its actor ("LOU" is Skip, "X4_RITA" is Rita in one
scene). ``canonical_speaker`` folds an actor's scene variants into one character ("FAYE-H",
"FAYE-E" -> "faye"; "ZOMBIE2" -> "zombie"): merging when unsure keeps one voice from landing on
both sides of a speaker split.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from tiny_audio.training.human.queen_dialogue import DOG_HEADER_SIZE, TEXT_ENCODING, DialogueFormatError

JOE_RESPONSES = 40
VERBS = 12
PERSON_IMAGES = (-3, -4)
JOE = "joe"
_OBJECT = struct.Struct(">hHHHhHHh")
_ACTOR = struct.Struct(">hhHhhHHHHHHH")
_VARIANT_PREFIX = re.compile(r"^x\d+_")
_VARIANT_SUFFIX = re.compile(r"(-[a-z]|_stand|_shower|\d+)$")
# Same character under two actor names (the princess is Azura).
_ALIASES = {"andson": "anderson", "azura": "princess_azura", "princess": "princess_azura"}


def canonical_speaker(actor: str) -> str:
    name = _VARIANT_PREFIX.sub("", actor.strip().lower())
    while (shorter := _VARIANT_SUFFIX.sub("", name)) != name and shorter:
        name = shorter
    return _ALIASES.get(name, name).replace(" ", "_")


@dataclass(frozen=True)
class GameObject:
    name: int  # index into the object names, negative while hidden
    room: int
    image: int


@dataclass(frozen=True)
class Actor:
    room: int
    person: int  # the how-manieth person object of the room
    name: str
    file: str


class QueenLogic:
    def __init__(self, jas: bytes, jas_text: bytes):
        data = jas[DOG_HEADER_SIZE:]
        rooms, names, objects, descriptions = struct.unpack_from(">4H", data, 0)
        lines = jas_text.decode(TEXT_ENCODING).split("\n")
        lines = [line.rstrip("\r") for line in lines]
        self.descriptions = lines[:descriptions]
        self.object_names = lines[descriptions : descriptions + names]
        responses_at = descriptions + names + rooms + VERBS
        self.joe_responses = lines[responses_at : responses_at + JOE_RESPONSES]
        self.objects = [GameObject(0, 0, 0)] + [
            GameObject(*_pick(_OBJECT.unpack_from(data, 8 + _OBJECT.size * i), 0, 5, 7)) for i in range(objects)
        ]
        self.room_first = list(struct.unpack_from(f">{rooms + 1}H", data, 8 + _OBJECT.size * objects))
        position = self._skip_to_actors(data, 8 + _OBJECT.size * objects + 2 * (rooms + 1), rooms, objects)
        actor_count, animations, actor_names, actor_files = struct.unpack_from(">4H", data, position)
        position += 8
        names_at = responses_at + JOE_RESPONSES + animations
        name_list = lines[names_at : names_at + actor_names]
        file_list = lines[names_at + actor_names : names_at + actor_names + actor_files]
        self.actors = []
        for index in range(actor_count):
            room, person, name, *_, file = _ACTOR.unpack_from(data, position + _ACTOR.size * index)
            self.actors.append(Actor(room, person, name_list[name - 1], file_list[file - 1] if file else ""))
        position += _ACTOR.size * actor_count
        (animations,) = struct.unpack_from(">H", data, position)
        position += 2 + 6 * max(animations, 1)
        self.version = data[position : position + 5].decode("ascii", errors="replace")
        if len(self.joe_responses) != JOE_RESPONSES or not name_list:
            raise DialogueFormatError("QUEEN2.JAS has fewer strings than QUEEN.JAS counts")

    @staticmethod
    def _skip_to_actors(data: bytes, position: int, rooms: int, objects: int) -> int:
        def count() -> int:
            nonlocal position
            (value,) = struct.unpack_from(">H", data, position)
            position += 2
            return value

        position += 2 * rooms  # a sound effect per room
        for record in (10, 10):  # items, graphics
            number = count()
            position += number * record
        for _ in range(rooms):  # walking areas per room: object count, area count, 16-byte areas
            position += 2
            number = count()
            position += number * 16
        position += 8 * objects  # object boxes
        for record in (6, 8):  # walk-off points, object descriptions
            number = count()
            position += number * record
        for record in (20, 6, 6, 6, 8):  # command list, areas, objects, inventory, game states
            number = count()
            position += max(number, 1) * record
        position += 2  # entry object
        number = count()  # furniture
        return position + number * 4

    def joe_lines(self) -> list[tuple[str, str]]:
        """(voice prefix, sentence) of every Joe response and object description."""
        lines = [(f"JOE{i:04d}", text) for i, text in enumerate(self.joe_responses, 1)]
        return lines + [(f"JOE{i + JOE_RESPONSES:04d}", t) for i, t in enumerate(self.descriptions, 1)]

    def person_number(self, number: int) -> int:
        room = self.objects[number].room
        first = self.room_first[room - 1] + 1
        return sum(1 for i in range(first, number + 1) if self.objects[i].image in PERSON_IMAGES)

    def object_speaker(self, number: int) -> str | None:
        """The character an object speaks as: its room's actor for that person slot (variants
        folded), else the object's own name; None when the slot holds several characters (the
        game picks one by its state)."""
        if number == 0:
            return JOE
        target = self.objects[number]
        person = self.person_number(number)
        found = {canonical_speaker(a.name) for a in self.actors if a.room == target.room and a.person == person}
        if len(found) > 1:
            return None
        return found.pop() if found else canonical_speaker(self.object_names[abs(target.name) - 1])

    def dialogue_speaker(self, dialogue_file: str) -> str:
        """The person of a dialogue file, from its name: an actor named like it ("MAN1.DOG"),
        or like it without digits, or whose actor file or name starts like it."""
        stem = dialogue_file.upper().rsplit(".", 1)[0]
        base = stem.rstrip("0123456789")
        for test in (
            lambda a: a.name == stem,
            lambda a: a.name == base,
            lambda a: a.file.upper().split(".")[0] == base,
            lambda a: a.name.startswith(base),
        ):
            found = {canonical_speaker(a.name) for a in self.actors if test(a)}
            if len(found) == 1:
                return found.pop()
        return canonical_speaker(base)


def _pick(values: tuple, *indices: int) -> tuple:
    return tuple(values[i] for i in indices)
