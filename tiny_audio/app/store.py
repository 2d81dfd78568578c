"""The app's loaded models, shared by every tab and every visitor."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Callable, Optional

from tiny_audio.pipeline.model import AudioLLM

DEFAULT_MODEL = os.environ.get("TINY_AUDIO_MODEL", "nano")


class ModelStore:
    """Loaded pipelines by name, at most ``capacity`` of them: when a new one arrives the least
    recently used goes, never the default (on a public Space, visitors' model ids must not pile
    up in memory). Each name loads under its own lock, so a slow download of one model does not
    hold up requests for another."""

    def __init__(self, loader: Optional[Callable[[str], AudioLLM]] = None, capacity: int = 2,
                 pinned: str = DEFAULT_MODEL):
        if loader is None:
            from tiny_audio.loading.load import load_model

            loader = load_model
        self._loader = loader
        self.capacity = max(1, capacity)
        self.pinned = pinned
        self._models: OrderedDict[str, AudioLLM] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()  # held only for dictionary updates, never while loading

    def is_loaded(self, spec: str) -> bool:
        return spec in self._models

    def get(self, spec: str) -> AudioLLM:
        with self._guard:
            if spec in self._models:
                self._models.move_to_end(spec)
                return self._models[spec]
            lock = self._loading.setdefault(spec, threading.Lock())
        with lock:
            with self._guard:
                if spec in self._models:  # loaded by the request this one waited for
                    self._models.move_to_end(spec)
                    return self._models[spec]
            try:
                model = self._loader(spec)
            except BaseException:
                with self._guard:
                    self._loading.pop(spec, None)
                raise
            with self._guard:  # one step: a request arriving now finds the model, not a free lock
                self._models[spec] = model
                self._loading.pop(spec, None)
                self._evict(keep=spec)
            return model

    def _evict(self, keep: str) -> None:
        """Drop least recently used models over capacity, never the default or the one just
        loaded. A dropped model lives on while a request or a live session still holds it."""
        while len(self._models) > self.capacity:
            victim = next((name for name in self._models if name not in (self.pinned, keep)), None)
            if victim is None:
                return
            del self._models[victim]
