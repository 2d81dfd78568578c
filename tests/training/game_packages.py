"""Stand-ins for the games' Debian packages, written in their documented formats: Drascula's
``drascula.dat`` text tables and raw 8-bit clips, laid out under a package cache the way
``fetch_package`` leaves one (so no apt-get runs)."""

import struct

import numpy as np

from tiny_audio.pipeline.audio import resample
from tiny_audio.training.human.debian import DONE_MARKER
from tiny_audio.training.human.drascula import DAT_NAME, GAME_DIR, PACKAGE, PREFIX_SPEAKERS, TEXT_TABLES

VERSION = "1.0+ds4-2"
LANGUAGES = 2


def _table_block(entries: list[bytes]) -> bytes:
    body = b"\0\0"
    for raw in entries:
        text = raw + b"\0"
        pad = 4 - (len(text) + 2) % 4
        body += struct.pack(">H", len(text) + pad + 2) + text + b"\0" * pad
    return body


def make_dat(tables: dict[str, list[list[bytes]]], version: int = 6) -> bytes:
    """drascula.dat with empty-ish fixed tables and the given texts (per table, per language)."""
    data = b"DRASCULA" + bytes([version])
    # thirteen fixed-size tables: give the first (charmap, 4-byte records) two records, the rest none
    data += struct.pack(">H", 2) + b"A\0\x06\0" + b"B\0\x0f\0"
    data += struct.pack(">H", 1) + b"\0\x01\0\x02"  # one item location
    data += struct.pack(">H", 0) * 11
    data += struct.pack(">H", LANGUAGES)
    for name in TEXT_TABLES:
        per_language = tables.get(name, [[b""]] * LANGUAGES)
        data += struct.pack(">H", len(per_language[0]))
        for entries in per_language:
            block = _table_block(entries)
            data += struct.pack(">H", len(block)) + block
    return data


def to_u8(samples: np.ndarray, rate: int, target: int = 11_025) -> bytes:
    """Float samples at ``rate`` as the game stores speech: unsigned 8-bit at 11,025 Hz."""
    low = resample(np.asarray(samples, dtype=np.float32), rate, target)
    return np.clip(np.round(low * 128) + 128, 0, 255).astype(np.uint8).tobytes()


def tone(seconds: float, hz: float, rate: int = 11_025) -> np.ndarray:
    """A tone with a second of silence either side (as the game's clips have)."""
    t = np.arange(int(seconds * rate)) / rate
    quiet = np.zeros(rate, dtype=np.float32)
    return np.concatenate([quiet, (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32), quiet])


def write_drascula(cache, lines: dict[str, tuple[str, bytes]]):
    """A drascula package in ``cache`` holding ``lines``: clip name ("VB3") → (subtitle, u8
    samples). Entry N of the clip's prefix table is its subtitle. Returns the package root."""
    tables: dict[str, list[list[bytes]]] = {}
    prefix_tables = {prefix: table for prefix, (table, _speaker) in PREFIX_SPEAKERS.items()}
    entries: dict[str, dict[int, bytes]] = {}
    for name, (text, _samples) in lines.items():
        prefix = name.rstrip("0123456789")
        entries.setdefault(prefix_tables[prefix], {})[int(name[len(prefix) :])] = text.encode("cp437")
    for table, texts in entries.items():
        english = [texts.get(n, b"") for n in range(max(texts) + 1)]
        tables[table] = [english, [b""] * len(english)]
    folder = cache / PACKAGE
    game = folder / "root" / GAME_DIR
    game.mkdir(parents=True)
    (game / DAT_NAME).write_bytes(make_dat(tables))
    for name, (_text, samples) in lines.items():
        (game / f"{name}.ALS").write_bytes(samples)
    copyright_file = folder / "root" / "usr/share/doc" / PACKAGE / "copyright"
    copyright_file.parent.mkdir(parents=True)
    copyright_file.write_text("Copyright: 1996-2008, Alcachofa Soft S.L.\n")
    (folder / DONE_MARKER).write_text(VERSION + "\n")
    return folder / "root"
