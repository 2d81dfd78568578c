"""Drascula: The Vampire Strikes Back (Debian package ``drascula``): 742 English voice clips
(46 min, 12 characters) with their subtitles and speakers.

    clips = drascula_clips(fetch_package("drascula", cache_dir).root)

Files (in ``usr/share/scummvm/drascula/en``):

- ``<PREFIX><N>.ALS``: one spoken line, headerless unsigned 8-bit mono PCM at 11,025 Hz.
- ``drascula.dat``: the engine's data. After "DRASCULA", a version byte (6) and thirteen tables of
  fixed-size records (a big-endian uint16 count each; record sizes in ``_RECORD_SIZES``), a
  uint16 language count (6: English first), then 15 text tables in ``TEXT_TABLES`` order. A text
  table is a uint16 entry count, then per language a uint16 byte length and that many bytes:
  2 zero bytes, then per entry a uint16 ``n`` and ``n - 2`` bytes holding the NUL-terminated
  string (code page 437) and zero padding to a multiple of 4.

The engine plays ``<PREFIX><N>.ALS`` while it shows entry N of the prefix's table, and the
prefix names the character (``PREFIX_SPEAKERS``). Table "textd" is shared: Drascula speaks 1-39,
the hero 56-67, the blind man 68-78, the bartender 82 and the talking trunk 83 (whose clip says
that entry, "BLA, BLA, BLA.", while the engine shows none). Clips ``S*`` and
``F*`` are sound effects; 21 more clips have an empty entry (most are Spanish takes left in the
English data) and ``B61``/``B62`` are unused alternative takes of ``VB61``/``VB62`` whose words
differ from the subtitle: all are left out.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from tiny_audio.training.human.clip import RAW_U8, SpeechClip

SOURCE = "drascula"
PACKAGE = "drascula"
GAME_DIR = Path("usr/share/scummvm/drascula/en")
DAT_NAME = "drascula.dat"
DAT_MAGIC = b"DRASCULA"
DAT_VERSION = 6
SAMPLE_RATE = 11_025
ENGLISH = 0
TEXT_ENCODING = "cp437"
# Bytes per record of the tables before the texts: charmap, item locations, polygon x/y, verb
# bar x, menu x/y, frame x, candle x/y, pianist x, drunk x, room pre-updates, room updates,
# room actions, talk sequences.
_RECORD_SIZES = (4, 4, 4, 2, 4, 2, 4, 2, 2, 20, 20, 10, 8)
TEXT_TABLES = (
    "text", "textd", "textb", "textbj", "texte", "texti", "textl", "textp", "textt", "textvb",
    "textsys", "texthis", "textverbs", "textmisc", "textd1",
)  # fmt: skip
# Clip prefix -> (text table, character).
PREFIX_SPEAKERS = {
    "": ("text", "john_hacker"),
    "D": ("textd", "drascula"),
    "B": ("textb", "drunk"),
    "BJ": ("textbj", "bj"),
    "E": ("texte", "desiderio"),
    "I": ("texti", "igor"),
    "L": ("textl", "werewolf"),
    "P": ("textp", "pianist"),
    "T": ("textt", "bartender"),
    "VB": ("textvb", "von_braun"),
}
# Entries of "textd" that other characters speak (the engine plays them as D<N>.ALS too).
TEXTD_SPEAKERS = {
    **{n: "john_hacker" for n in range(56, 68)},
    **{n: "blind_man" for n in range(68, 79)},
    82: "bartender",
    83: "trunk",
}
_CLIP_NAME = re.compile(r"^(?P<prefix>[A-Z]*)(?P<number>\d+)\.ALS$", re.IGNORECASE)


class DrasculaFormatError(ValueError):
    """drascula.dat is not laid out as described in this module."""


def read_text_tables(data: bytes, language: int = ENGLISH) -> dict[str, list[str]]:
    """Every text table of ``drascula.dat`` in one language: {table name: entries}."""
    if data[: len(DAT_MAGIC)] != DAT_MAGIC:
        raise DrasculaFormatError("not a drascula.dat file (no DRASCULA magic)")
    if data[len(DAT_MAGIC)] != DAT_VERSION:
        raise DrasculaFormatError(f"drascula.dat version {data[len(DAT_MAGIC)]}, expected {DAT_VERSION}")
    position = len(DAT_MAGIC) + 1

    def uint16() -> int:
        nonlocal position
        if position + 2 > len(data):
            raise DrasculaFormatError(f"drascula.dat ends at byte {len(data)} inside a table")
        (value,) = struct.unpack_from(">H", data, position)
        position += 2
        return value

    for record_size in _RECORD_SIZES:
        count = uint16()  # read before adding: ``position += uint16() * ...`` would add to the old value
        position += count * record_size
    languages = uint16()
    if not 0 <= language < languages:
        raise DrasculaFormatError(f"language {language} asked for; the file has {languages}")
    tables: dict[str, list[str]] = {}
    for name in TEXT_TABLES:
        count = uint16()
        for index in range(languages):
            length = uint16()
            if position + length > len(data):
                raise DrasculaFormatError(f"drascula.dat ends at byte {len(data)} inside table {name}")
            block = data[position : position + length]
            position += length
            if index == language:
                tables[name] = _entries(block, count, name)
    if position != len(data):
        raise DrasculaFormatError(f"drascula.dat has {len(data) - position} bytes after its last table")
    return tables


def _entries(block: bytes, count: int, table: str) -> list[str]:
    entries, position = [], 2  # the block opens with 2 bytes of padding
    while position < len(block):
        (size,) = struct.unpack_from(">H", block, position)
        if size < 3:
            raise DrasculaFormatError(f"table {table}: entry {len(entries)} has size {size}")
        raw = block[position + 2 : position + size]
        entries.append(raw.split(b"\0", 1)[0].decode(TEXT_ENCODING))
        position += size
    if len(entries) != count:
        raise DrasculaFormatError(f"table {table}: {len(entries)} entries, header says {count}")
    return entries


def clip_line(name: str, tables: dict[str, list[str]]) -> tuple[str, str] | None:
    """(character, text) of the clip file ``name`` (e.g. "VB12.ALS"), or None for a clip with no
    text (sound effects, songs, an empty entry)."""
    match = _CLIP_NAME.match(name)
    if match is None:
        return None
    prefix, number = match["prefix"].upper(), int(match["number"])
    if prefix not in PREFIX_SPEAKERS:
        return None
    table, speaker = PREFIX_SPEAKERS[prefix]
    if prefix == "D":
        speaker = TEXTD_SPEAKERS.get(number, speaker)
    entries = tables[table]
    text = entries[number].strip() if number < len(entries) else ""
    return (speaker, text) if text else None


def drascula_clips(package_root: Path) -> list[SpeechClip]:
    """Every English clip with text, in file-name order. ``package_root`` is the extracted
    package (``fetch_package("drascula", ...).root``) or any folder laid out like it."""
    game = Path(package_root) / GAME_DIR
    dat = game / DAT_NAME
    if not dat.is_file():
        raise FileNotFoundError(f"no {DAT_NAME} in {game}: is {package_root} the extracted {PACKAGE} package?")
    tables = read_text_tables(dat.read_bytes())
    clips = []
    for path in sorted(game.iterdir(), key=lambda p: p.name.upper()):
        line = clip_line(path.name, tables)
        if line is None:
            continue
        speaker, text = line
        clips.append(
            SpeechClip(
                source=SOURCE,
                clip_id=path.stem.upper(),
                speaker=f"{SOURCE}/{speaker}",
                text=text,
                path=path,
                offset=0,
                size=path.stat().st_size,
                encoding=RAW_U8,
                sample_rate=SAMPLE_RATE,
            )
        )
    return clips
