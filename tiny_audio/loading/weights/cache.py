"""Where converted weights live, and how they are written without ever leaving half a file."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def cache_dir() -> Path:
    """The cache root: ``$TINY_AUDIO_CACHE`` or ``~/.cache/tiny-audio``. Created on demand."""
    root = Path(os.environ.get("TINY_AUDIO_CACHE") or Path.home() / ".cache" / "tiny-audio")
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place only if the block succeeds.

    A process killed half-way leaves at most a stray ``*.tmp`` file, never a truncated ``final``.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=final.name + ".", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o644)  # what a plain write gives: readable by all (mkstemp makes it private)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def safetensors_intact(path: Path) -> bool:
    """Whether ``path`` is a whole safetensors file: its header parses and the file is exactly as
    long as the header says (a copy cut short, or a disk that filled up, is not)."""
    try:
        with open(path, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if not 2 <= size <= 100_000_000:
                return False
            header = json.loads(handle.read(size))
        ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
        return Path(path).stat().st_size == 8 + size + max(ends, default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return False
