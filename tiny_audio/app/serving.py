"""How the app is served: public mode and its model allowlist, the queue, upload and cache limits.

Public mode is on by default when the app is reachable beyond this machine (a server name other
than localhost) or runs on a Hugging Face Space, and can be forced either way with
``TINY_AUDIO_PUBLIC=1|0``. In public mode a visitor may choose only the models the operator lists
in ``TINY_AUDIO_ALLOWED_MODELS`` (comma-separated; ``nano`` and ``TINY_AUDIO_MODEL`` are always
offered), never a server path, and each visitor has a budget of audio per ten minutes.

Every event goes through the queue (``api_open=False``: Gradio's direct REST route is closed),
the queue is bounded, uploads are capped, and Gradio's cache of uploads and outputs expires.
Events hidden from the API docs (``api_visibility="private"``) can still be called by anyone
who reads the page's config: they are no access control, so every handler checks its own inputs.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

PUBLIC_ENV = "TINY_AUDIO_PUBLIC"
ALLOWED_ENV = "TINY_AUDIO_ALLOWED_MODELS"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")

# 30 s of 96 kHz stereo 24-bit PCM is 17 MB; nothing the model can use is bigger.
MAX_FILE_SIZE = "25mb"
# Requests waiting at once, all visitors together; one more is told the queue is full.
QUEUE_SIZE = 32
# Gradio's copies of uploads and of returned files (each run: its upload and its ~100 KB JSON):
# checked every 5 minutes, deleted after 15 (and all of them when the server stops).
CACHE_CHECK_S = 300
CACHE_MAX_AGE_S = 900
# Public mode: seconds of audio one visitor may have transcribed per window (4 full-length clips
# per 10 minutes: about 3 minutes of CPU on two cores with nano's beam search).
CLIENT_AUDIO_SECONDS = 120.0
CLIENT_WINDOW_S = 600.0


class QuotaExceeded(RuntimeError):
    """A visitor used up their audio budget; the message says when they can go on."""


@dataclass
class ClientQuota:
    """Seconds of audio per visitor within a sliding window, charged when a run starts. Over the
    budget the request is refused at once, so a visitor who floods the queue costs the others
    almost nothing when their requests come up."""

    seconds: float = CLIENT_AUDIO_SECONDS
    window_s: float = CLIENT_WINDOW_S
    max_clients: int = 10_000  # the oldest visitors are forgotten first: memory stays bounded
    _charges: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, client: str, seconds: float, now: Optional[float] = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            charges = self._charges.pop(client, deque())
            while charges and charges[0][0] <= now - self.window_s:
                charges.popleft()
            used = sum(s for _, s in charges)
            self._charges[client] = charges
            while len(self._charges) > self.max_clients:
                self._charges.popitem(last=False)
            if used + seconds > self.seconds:
                wait = charges[0][0] + self.window_s - now if charges else self.window_s
                raise QuotaExceeded(
                    f"This server transcribes at most {self.seconds:.0f} s of audio per visitor every "
                    f"{self.window_s / 60:.0f} minutes; try again in {max(1, wait / 60):.0f} min.")
            charges.append((now, seconds))


@dataclass(frozen=True)
class Serving:
    public: bool
    offered: tuple[str, ...]  # the model box's choices; in public mode the only names accepted
    server_name: str
    quota: Optional[ClientQuota] = None

    @property
    def allowed(self) -> Optional[tuple[str, ...]]:
        """The names a ModelStore accepts: the offered ones in public mode, None (any) otherwise."""
        return self.offered if self.public else None


def serving_from_env(default_model: str, environ=None) -> Serving:
    environ = os.environ if environ is None else environ
    server_name = environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    forced = environ.get(PUBLIC_ENV, "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        public = True
    elif forced in ("0", "false", "no", "off"):
        public = False
    else:
        public = bool(environ.get("SPACE_ID")) or server_name.strip().lower() not in LOCAL_HOSTS
    listed = [name.strip() for name in environ.get(ALLOWED_ENV, "").split(",") if name.strip()]
    offered = tuple(dict.fromkeys(["nano", default_model, *listed]))
    return Serving(public, offered, server_name, ClientQuota() if public else None)


def client_id(request) -> str:
    """Who sent a request: the address the connection came from. On a Space every connection
    comes from its proxy, which names the visitor first in X-Forwarded-For."""
    if request is None:
        return "local"
    headers = getattr(request, "headers", None) or {}
    if os.environ.get("SPACE_ID") and headers.get("x-forwarded-for"):
        return headers["x-forwarded-for"].split(",")[0].strip()
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "unknown"


def launch(demo, serving: Serving, **launch_kwargs):
    """Queue and launch ``demo`` as configured: every call queued, bounded, uploads capped."""
    demo.queue(api_open=False, max_size=QUEUE_SIZE, default_concurrency_limit=1)
    launch_kwargs.setdefault("server_name", serving.server_name)
    return demo.launch(max_file_size=MAX_FILE_SIZE, **launch_kwargs)


def delete_cache() -> tuple[int, int]:
    """``gr.Blocks(delete_cache=...)``: how often Gradio's cache is swept and how old a file may get."""
    return CACHE_CHECK_S, CACHE_MAX_AGE_S


def sweep_stale_files(folder: Path, max_age_s: float = CACHE_MAX_AGE_S, now: Optional[float] = None) -> int:
    """Delete files older than ``max_age_s`` under ``folder`` (what an earlier process, killed
    before it could clean up, left in a cache this app owns), and the folders they leave empty.
    Returns how many files went."""
    now = time.time() if now is None else now
    removed = 0
    if not folder.is_dir():
        return 0
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        try:
            if path.is_file() and not path.is_symlink() and now - path.stat().st_mtime > max_age_s:
                path.unlink()
                removed += 1
            elif path.is_dir() and now - path.stat().st_mtime > max_age_s and not any(path.iterdir()):
                path.rmdir()
        except OSError:
            continue  # in use or vanished meanwhile
    return removed
