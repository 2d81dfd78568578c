"""How the app is served: public mode and its model allowlist, the queue, upload and cache limits.

Public mode is on by default when the app is reachable beyond this machine (a server name other
than localhost) or runs on a Hugging Face Space, and can be forced either way with
``TINY_AUDIO_PUBLIC=1|0``. In public mode a visitor may choose only the models the operator lists
in ``TINY_AUDIO_ALLOWED_MODELS`` (comma-separated; ``nano`` and ``TINY_AUDIO_MODEL`` are always
offered), never a server path, each visitor has a budget of audio per ten minutes, and may have at most
``CLIENT_PENDING`` requests waiting or running at once (more are refused when they ask to join the
queue, so they never take a place in it).

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
# Public mode: model runs one visitor may have waiting or running at once (a second tab, or a press
# while another tab's run waits). With QUEUE_SIZE 32, one visitor never holds more than a sixteenth
# of the queue.
CLIENT_PENDING = 2
# A place whose request left the queue without running (Gradio drops the requests of a tab that
# closed while they waited) is free again after this long: the longest a full queue takes to drain.
PENDING_EXPIRY_S = 1800.0


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


class TooManyRequests(RuntimeError):
    """A visitor who already has ``CLIENT_PENDING`` requests waiting or running."""


@dataclass
class ClientSlots:
    """Places per visitor in the model's queue. One is taken when a request asks to join the queue
    (a refused request costs nothing and holds nothing) and given back when its run ends."""

    limit: int = CLIENT_PENDING
    expiry_s: float = PENDING_EXPIRY_S
    max_clients: int = 10_000  # the oldest visitors are forgotten first: memory stays bounded
    _taken: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, client: str, now: Optional[float] = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            taken = self._taken.pop(client, deque())
            while taken and taken[0] <= now - self.expiry_s:
                taken.popleft()
            self._taken[client] = taken
            while len(self._taken) > self.max_clients:
                self._taken.popitem(last=False)
            if len(taken) >= self.limit:
                raise TooManyRequests(f"You already have {self.limit} requests waiting or running on this server; "
                                      "wait for one to finish, then try again.")
            taken.append(now)

    def give_back(self, client: str) -> None:
        with self._lock:
            taken = self._taken.get(client)
            if taken:
                taken.popleft()
            if not taken:
                self._taken.pop(client, None)

    def held(self, client: str) -> int:
        with self._lock:
            return len(self._taken.get(client, ()))


@dataclass(frozen=True)
class Serving:
    public: bool
    offered: tuple[str, ...]  # the model box's choices; in public mode the only names accepted
    server_name: str
    quota: Optional[ClientQuota] = None
    slots: Optional[ClientSlots] = None

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
    if not public:
        return Serving(False, offered, server_name)
    return Serving(True, offered, server_name, ClientQuota(), ClientSlots())


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
