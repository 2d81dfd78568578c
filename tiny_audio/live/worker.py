"""The live model in a process of its own, so that the web server keeps up with the microphone.

In the browser, Gradio hands each streamed chunk to the server's stream handler and keeps only
the newest chunk while that handler is busy: a server whose cores (and Python's lock) are taken
by the model drops audio. ``ProcessRunner`` runs a live session's model calls in a child process
with a CPU budget: one core fewer than the machine has (at least one) and a lower priority
(``NICE``), so the server gets the CPU whenever it needs it. The thread count matters beyond
sharing: torch's threads wait for each other at every operation, and one of them descheduled holds
up the rest — on this 2-core machine, with other processes busy, a 15-token decode took 28 s with
two threads and 2.2 s with one. It has ``ModelRunner``'s interface (runner.py), so a
``LiveSession`` takes either.

The child is ``python -m tiny_audio.live.worker``: it imports nothing of the program that started
it (an app module that loads a model when imported is not run again). It loads its own copy of
the model with the loader it is sent (a module-level function, sent by reference), then answers
one request at a time over a pipe; it ends when the pipe closes, so it never outlives its parent.
A run given ``should_stop`` is cancelled over a third pipe: while it waits, the parent asks
``should_stop`` every ``CANCEL_POLL_S`` and, once it is true, sends the request's number; the
child reads that pipe before each new token and answers "cancelled".
Memory: one more copy of the model (and its bfloat16 copy for the updates).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Callable, Optional

import numpy as np

from tiny_audio.pipeline.audio import AudioError
from tiny_audio.pipeline.decoding import Cancelled, ShouldStop
from tiny_audio.pipeline.encoders import WHISPER_WINDOW_SECONDS

NICE = 10  # the server's own work (nice 0) comes first: ~10x the CPU share when both want it
CANCEL_POLL_S = 0.05  # how often a waiting run asks whether it is still wanted


def worker_threads() -> int:
    return max(1, (os.cpu_count() or 1) - 1)


class WorkerStopped(RuntimeError):
    """The worker process is gone or could not load its model."""


class ProcessRunner:
    def __init__(self, loader: Callable, spec: str, fast_updates: bool = True):
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        cancels_to_child, cancels_from_parent = os.pipe()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        child_ends = (to_child, from_child, cancels_to_child)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tiny_audio.live.worker", *map(str, child_ends)],
            pass_fds=child_ends, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )
        for end in child_ends:
            os.close(end)
        self._requests = Connection(from_parent, readable=False)
        self._responses = Connection(to_parent, writable=False)
        self._cancels = Connection(cancels_from_parent, readable=False)
        self._number = 0  # of the latest request
        self._requests.send((loader, spec, fast_updates))
        self._lock = threading.Lock()
        self._info: Optional[dict] = None
        self._failure: Optional[str] = None
        self.spec = spec

    # ----- state -------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._failure is None and self._process.poll() is None

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def ready(self) -> bool:
        """Whether the model is loaded (never waits)."""
        if self._info is None and self._failure is None and self._lock.acquire(blocking=False):
            try:
                if self._responses.poll(0):
                    self._take_ready()
            except WorkerStopped:
                pass  # the next run says why
            finally:
                self._lock.release()
        return self._info is not None

    @property
    def max_seconds(self) -> float:
        return self._info["max_seconds"] if self._info else WHISPER_WINDOW_SECONDS

    @property
    def updates_precision(self) -> str:
        return self._info["updates_precision"] if self._info else ""

    @property
    def threads(self) -> Optional[int]:
        """The worker's torch threads, once it is ready."""
        return self._info["threads"] if self._info else None

    # ----- the runs ----------------------------------------------------------------------------

    def update(self, samples: np.ndarray, rate: int, continue_from: list[int], max_new_tokens: int,
               should_stop: ShouldStop = None):
        return self._call("update", samples, rate, continue_from, max_new_tokens, should_stop=should_stop)

    def complete(self, samples: np.ndarray, rate: int, continue_from: list[int], max_new_tokens: int,
                 should_stop: ShouldStop = None):
        return self._call("complete", samples, rate, continue_from, max_new_tokens, should_stop=should_stop)

    def figures(self, result) -> list[str]:
        """The live plots of ``result``, built in the worker: a 12-panel figure holds Python's lock
        in the server for ~0.1 s, as long as the browser's chunks come apart, and a chunk that
        arrives while the server is held up replaces the one before it."""
        return self._call("figures", result)

    def _call(self, kind: str, *args, should_stop: ShouldStop = None):
        with self._lock:  # one request at a time: sessions that share the worker take turns
            if self._info is None:
                self._take_ready()
            self._number += 1
            try:
                self._requests.send((kind, args, self._number))
                status, payload = self._answer(should_stop)
            except (EOFError, OSError, BrokenPipeError):
                raise self._stopped() from None
        if status == "cancelled":
            raise Cancelled(payload)
        if status == "audio":
            raise AudioError(payload)
        if status == "error":
            raise RuntimeError(payload)
        return payload

    def _answer(self, should_stop: ShouldStop):
        """The child's answer to the latest request, cancelling it once ``should_stop`` says so."""
        while should_stop is not None and not self._responses.poll(0):
            if should_stop():
                self._cancels.send(self._number)
                break
            self._responses.poll(CANCEL_POLL_S)
        return self._responses.recv()

    def _take_ready(self) -> None:
        if self._failure is not None:
            raise WorkerStopped(self._failure)
        try:
            status, payload = self._responses.recv()
        except (EOFError, OSError):
            raise self._stopped() from None
        if status != "ready":
            self._failure = f"the live worker could not load model '{self.spec}': {payload}"
            raise WorkerStopped(self._failure)
        self._info = payload

    def _stopped(self) -> WorkerStopped:
        code = self._process.poll()
        if self._failure is None:
            self._failure = "the live model's worker process stopped" + (f" (exit status {code})" if code else "")
        return WorkerStopped(self._failure)

    def kill(self) -> None:
        """End the child at once, whatever it is doing."""
        self._process.kill()
        self._process.wait()

    def close(self) -> None:
        """End the child (it ends on its own when the pipe closes)."""
        for connection in (self._requests, self._responses, self._cancels):
            connection.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()


_shared: OrderedDict[tuple, ProcessRunner] = OrderedDict()
_shared_lock = threading.Lock()


def shared_runner(loader: Callable, spec: str, capacity: int = 2, pinned: Optional[str] = None) -> ProcessRunner:
    """The worker for this model, shared by every live session that uses it: started on first
    use (it loads in the background; the calls wait for it) and started again if it stopped.
    At most ``capacity`` are kept; the least recently used goes first, never ``pinned``."""
    key = (loader, spec)
    with _shared_lock:
        runner = _shared.get(key)
        if runner is None or not runner.alive:
            runner = _shared[key] = ProcessRunner(loader, spec)
        _shared.move_to_end(key)
        while len(_shared) > capacity:
            victim = next((k for k in _shared if k[1] != pinned and k != key), None)
            if victim is None:
                break
            _shared.pop(victim).close()
        return runner


# ----- the child -----------------------------------------------------------------------------


def serve(requests: Connection, responses: Connection, cancels: Connection) -> None:
    from tiny_audio.live.runner import ModelRunner

    cancelled = [0]  # the newest request number the parent cancelled

    def stale(number: int) -> bool:
        while cancels.poll(0):
            cancelled[0] = cancels.recv()
        return cancelled[0] == number

    loader, spec, fast_updates = requests.recv()
    try:
        runner = ModelRunner(loader(spec), fast_updates)
    except Exception as error:
        responses.send(("error", _describe(error)))
        return
    import torch

    responses.send(("ready", {"max_seconds": runner.max_seconds, "updates_precision": runner.updates_precision,
                              "threads": torch.get_num_threads()}))
    while True:
        try:
            kind, args, number = requests.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe, or died
        try:
            if kind in ("update", "complete"):
                responses.send(("ok", getattr(runner, kind)(*args, should_stop=lambda: stale(number))))
            else:
                responses.send(("ok", getattr(runner, kind)(*args)))
        except Cancelled as error:
            responses.send(("cancelled", str(error)))
        except AudioError as error:
            responses.send(("audio", str(error)))
        except Exception as error:
            responses.send(("error", _describe(error)))


def _describe(error: Exception) -> str:
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__


if __name__ == "__main__":
    os.nice(NICE)
    import torch

    torch.set_num_threads(worker_threads())
    serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False),
          Connection(int(sys.argv[3]), writable=False))
