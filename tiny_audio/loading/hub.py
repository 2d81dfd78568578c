"""Where a checkpoint's files are: a local directory, or a Hub repository at a revision.

A model name may end in ``@REVISION`` (a branch, a tag or a commit) to pin the Hub snapshot:
``mazesmazes/tiny-audio@<commit>``. A local directory is taken as it is, ``@`` and all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

# Files a Tiny Audio checkpoint may need; nothing executable (its *.py files) is fetched.
CHECKPOINT_FILES = ["*.safetensors", "*.json", "*.txt", "*.model", "*.jinja"]


def split_revision(spec: str) -> tuple[str, Optional[str]]:
    """``"owner/name@rev"`` → ``("owner/name", "rev")``; a name without ``@``, or an existing
    directory, → ``(spec, None)``. Spaces around the parts are dropped."""
    spec = spec.strip()
    if Path(spec).is_dir() or "@" not in spec:
        return spec, None
    name, revision = (part.strip() for part in spec.rsplit("@", 1))
    if not name or not revision:
        raise ValueError(f"'{spec}': give a model name before '@' and a revision after it")
    return name, revision


def normalize_spec(spec: str) -> str:
    """One spelling per model and revision (``" a/b @ main "`` → ``"a/b@main"``), so that the
    app loads each once."""
    name, revision = split_revision(spec)
    return f"{name}@{revision}" if revision else name


def checkpoint_directory(spec: str) -> Path:
    """The local directory holding a checkpoint: ``spec`` itself, or a snapshot of the Hub
    repository (at its revision) with only the files a checkpoint needs."""
    name, revision = split_revision(spec)
    if Path(name).is_dir():
        return Path(name)
    if Path(name).expanduser().is_absolute() or name.startswith("."):
        raise ValueError(f"'{name}' is not a directory")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(name, revision=revision, allow_patterns=CHECKPOINT_FILES))
