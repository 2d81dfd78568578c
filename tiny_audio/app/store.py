"""The app's loaded models, shared by every tab and every visitor."""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from tiny_audio.loading.hub import normalize_spec
from tiny_audio.pipeline.model import AudioLLM

DEFAULT_MODEL = os.environ.get("TINY_AUDIO_MODEL", "nano")

# transformers' loading is not thread-safe: two loads at once (two visitors naming different
# models, or a Live tab beside a Transcribe press) can leave its global initialisation state
# patched, and every later load then builds weights on the meta device. One load at a time in
# the whole process; requests for a model already loaded never wait for it.
LOAD_LOCK = threading.RLock()

MAX_SHOWN_NAME = 80  # a visitor's model name is echoed back at most this long


class ModelRefused(ValueError):
    """A model name this server does not offer (public mode), with a message for the visitor."""


def shown_name(spec: str) -> str:
    spec = " ".join(str(spec).split())
    return spec if len(spec) <= MAX_SHOWN_NAME else spec[: MAX_SHOWN_NAME - 1] + "…"


def listed_name(spec: str) -> str:
    """A name as an allowlist compares it: trimmed, no spaces around ``@`` (a string operation
    only: the file system is never consulted for a name a visitor typed)."""
    return re.sub(r"\s*@\s*", "@", str(spec or "").strip())


def model_key(spec: str) -> str:
    """One name per model: Hub ids as ``normalize_spec`` spells them, local directories by their
    real path, so ``ck/ok/``, ``ck//ok`` and ``ck/./ok`` are one model, loaded once."""
    spec = normalize_spec(spec)
    path = Path(spec).expanduser()
    return os.path.realpath(path) if path.is_dir() else spec


@dataclass(frozen=True)
class AllowedLoader:
    """A loader that loads only the allowed names (every name when ``allowed`` is None). Plain
    data around a module-level function, so a worker process can be sent it and load with it."""

    load: Callable[[str], AudioLLM]
    allowed: Optional[frozenset] = None

    def check(self, spec: str) -> str:
        """The model's key, or ``ModelRefused``. In public mode the name must be one of the
        allowlist's, spelled as listed: nothing a visitor types reaches the file system first."""
        spec = str(spec or "").strip()
        if self.allowed is not None and listed_name(spec) not in self.allowed:
            offered = ", ".join(sorted(self.allowed))
            raise ModelRefused(f"'{shown_name(spec)}' is not offered on this server; choose one of: {offered}")
        return model_key(spec)

    def __call__(self, spec: str) -> AudioLLM:
        key = self.check(spec)
        with LOAD_LOCK:
            return self.load(key)


class ModelStore:
    """Loaded pipelines by name, at most ``capacity`` of them: when a new one arrives the least
    recently used goes, never the default (on a public Space, visitors' model ids must not pile
    up in memory). Loads run one at a time (``LOAD_LOCK``); a request for a loaded model is
    answered at once, whatever is loading meanwhile.

    ``allowed``: the only names visitors may choose (public mode); None: any name or directory.
    """

    def __init__(self, loader: Optional[Callable[[str], AudioLLM]] = None, capacity: int = 2,
                 pinned: str = DEFAULT_MODEL, allowed=None):
        if loader is None:
            from tiny_audio.loading.load import load_model

            loader = load_model
        allowed = None if allowed is None else frozenset(listed_name(name) for name in allowed if listed_name(name))
        self._loader = AllowedLoader(loader, allowed)
        self.capacity = max(1, capacity)
        self.pinned = model_key(pinned)
        self._models: OrderedDict[str, AudioLLM] = OrderedDict()
        self._guard = threading.Lock()  # held only for dictionary updates, never while loading

    @property
    def loader(self) -> AllowedLoader:
        """What loads a model from its name, allowlist and load lock included (the live tab's
        worker process loads with it too)."""
        return self._loader

    @property
    def public(self) -> bool:
        return self._loader.allowed is not None

    @property
    def offered(self) -> Optional[list[str]]:
        """The names visitors may choose, or None when any name is accepted."""
        return None if self._loader.allowed is None else sorted(self._loader.allowed)

    def resolve(self, spec: str) -> str:
        """The store's key for ``spec``, or ``ModelRefused`` when this server does not offer it."""
        return self._loader.check(spec)

    def is_loaded(self, spec: str) -> bool:
        try:
            return self.resolve(spec) in self._models
        except ValueError:  # refused, or a malformed name@revision
            return False

    def get(self, spec: str) -> AudioLLM:
        key = self.resolve(spec)
        with self._guard:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        with LOAD_LOCK:
            with self._guard:
                if key in self._models:  # loaded by the request this one waited for
                    self._models.move_to_end(key)
                    return self._models[key]
            model = self._loader.load(key)
            with self._guard:  # one step: a request arriving now finds the model
                self._models[key] = model
                self._evict(keep=key)
            return model

    def _evict(self, keep: str) -> None:
        """Drop least recently used models over capacity, never the default or the one just
        loaded. A dropped model lives on while a request or a live session still holds it."""
        while len(self._models) > self.capacity:
            victim = next((name for name in self._models if name not in (self.pinned, keep)), None)
            if victim is None:
                return
            del self._models[victim]
