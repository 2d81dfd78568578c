"""Where converted weights live, and how they are written without ever leaving half a file."""

from __future__ import annotations

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
