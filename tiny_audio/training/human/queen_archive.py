"""The resource archive of Flight of the Amazon Queen's CD version as Debian ships it: ``queen.1c``.

Layout (all integers big-endian): "QTBL", a 6-byte version string ("CEM10" and a NUL: CD,
English), 2 unused bytes, a compression byte (1: MP3), a uint16 entry count, then per entry a
12-byte NUL-padded upper-case file name, a uint8 bundle number (always 1 here), a uint32 offset
and a uint32 size. Entries are sorted by name; their offsets point into the same file.

Speech and sound effects are the ``*.SB`` entries (here MP3 files). Their headers claim
11,025 Hz, but the game plays them at ``PLAYBACK_RATE``: the recordings run at 11,840 Hz and the
tool that compressed them wrote the wrong rate (read at 11,025 Hz, every voice is 7 % too slow
and low).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"QTBL"
_HEADER = struct.Struct(">4s6s2xB")  # magic, version, unused, compression
_ENTRY = struct.Struct(">12sBII")  # name, bundle, offset, size
COMPRESSION_MP3 = 1
PLAYBACK_RATE = 11_840
SOUND_SUFFIX = ".SB"


class QueenFormatError(ValueError):
    """The archive is not laid out as described in this module."""


@dataclass(frozen=True)
class Entry:
    name: str
    offset: int
    size: int


class QueenArchive:
    """The table of contents of ``queen.1c`` and the bytes of any entry."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as handle:
            head = handle.read(_HEADER.size + 2)
            if len(head) < _HEADER.size + 2:
                raise QueenFormatError(f"{self.path} is too short for a queen.1c header")
            magic, version, compression = _HEADER.unpack_from(head)
            if magic != MAGIC:
                raise QueenFormatError(f"{self.path} is not a rebuilt queen.1c archive (no QTBL magic)")
            self.version = version.split(b"\0", 1)[0].decode("ascii")
            self.compression = compression
            (count,) = struct.unpack_from(">H", head, _HEADER.size)
            table = handle.read(count * _ENTRY.size)
        if len(table) != count * _ENTRY.size:
            raise QueenFormatError(f"{self.path} ends inside its table of {count} entries")
        size = self.path.stat().st_size
        self.entries: dict[str, Entry] = {}
        for index in range(count):
            raw_name, _bundle, offset, length = _ENTRY.unpack_from(table, index * _ENTRY.size)
            name = raw_name.split(b"\0", 1)[0].decode("ascii")
            if offset + length > size:
                raise QueenFormatError(f"{name} lies past the end of {self.path}")
            self.entries[name] = Entry(name, offset, length)

    def read(self, name: str) -> bytes:
        entry = self.entries[name.upper()]
        with open(self.path, "rb") as handle:
            handle.seek(entry.offset)
            return handle.read(entry.size)

    def sounds(self) -> dict[str, Entry]:
        """``*.SB`` entries by voice-file name without the suffix ("C41B_742")."""
        return {n[: -len(SOUND_SUFFIX)]: e for n, e in self.entries.items() if n.endswith(SOUND_SUFFIX)}

    def names(self, suffix: str) -> list[str]:
        return sorted(n for n in self.entries if n.endswith(suffix))
