"""The audio of a live session that is not committed yet: mono float32 samples at the source's
own rate, and where they start in the whole stream.

Resampling to the model's rate happens on the whole window when a run uses it, so chunk
boundaries leave no trace in what the model hears.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


class Window:
    def __init__(self):
        self.rate: Optional[int] = None
        self.start = 0  # index in the whole stream of the window's first sample
        self._chunks: list[np.ndarray] = []
        self._size = 0

    def append(self, chunk: np.ndarray) -> None:
        if chunk.size:
            self._chunks.append(chunk)
            self._size += chunk.size

    @property
    def size(self) -> int:
        return self._size

    @property
    def end(self) -> int:
        """Index in the whole stream just past the window's last sample."""
        return self.start + self._size

    @property
    def seconds(self) -> float:
        return self._size / self.rate if self.rate else 0.0

    def samples(self) -> np.ndarray:
        """The window's samples (a fresh array each time, safe to use outside the lock)."""
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0].copy() if self._chunks else np.zeros(0, dtype=np.float32)

    def drop_until(self, position: int) -> None:
        """Forget everything before ``position`` (an index in the whole stream)."""
        drop = min(max(0, position - self.start), self._size)
        if drop:
            rest = self.samples()[drop:]
            self._chunks = [rest] if rest.size else []
            self._size = rest.size
            self.start += drop

    def keep_last(self, seconds: float) -> None:
        if self.rate:
            self.drop_until(self.end - int(seconds * self.rate))
