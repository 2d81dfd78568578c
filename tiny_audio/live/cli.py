"""Live transcription in the terminal: ``python -m tiny_audio.live``.

A local microphone (``sounddevice``) or a file played at real-time pace feeds a ``LiveSession``
(streaming.py); the terminal shows the rolling transcript, each stage's RMS/std and the latency
of the latest update, redrawn in place. Ctrl-C or the end of the file decodes the words not yet
committed once more and prints the whole transcript.

Both sources go through the same path: blocks land in a queue (from the audio callback or from a
pacing thread), and the main loop feeds them to the session, whose worker thread runs the model
on the newest audio. ``--input-file`` therefore exercises everything but the microphone itself,
and never imports sounddevice.

Here the model runs in the session's worker thread: the blocks wait in a queue, so none is lost
while it runs (the app, whose server must stay responsive, runs it in a process: worker.py).
Input devices are chosen in ``devices.py`` (sounddevice imported lazily, there only); the
terminal and HTML views are drawn by ``display.py``.
"""

from __future__ import annotations

import argparse
import queue
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from tiny_audio.live.devices import (
    DeviceError,
    choose_input_device,
    import_sounddevice,
    list_devices,
    query_devices,
)
from tiny_audio.live.display import HTML_REFRESH_S, Screen, screen_lines, write_html
from tiny_audio.live.streaming import DEFAULT_MAX_SECONDS, LiveSession, LiveUpdate
from tiny_audio.pipeline.audio import SAMPLE_RATE, AudioError

BLOCK_SECONDS = 0.1
REDRAW_EVERY_S = 0.25  # the "heard" clock ticks even when no update arrives

EXIT_DEVICE = 2  # no PortAudio, no sounddevice, no such input device
EXIT_ERROR = 1  # unreadable file, model that fails to load

END = object()  # queued by a source when its input ends

# ----- sources: each puts 16 kHz mono float32 blocks into a queue, then END ---------------------


class FileSource:
    """A file played at ``speed`` × real time, in ``BLOCK_SECONDS`` blocks, from a thread."""

    def __init__(self, samples: np.ndarray, blocks: queue.Queue, speed: float = 1.0):
        self.samples, self.blocks, self.speed = samples, blocks, speed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _play(self) -> None:
        step = int(BLOCK_SECONDS * SAMPLE_RATE)
        start = time.perf_counter()
        for n, offset in enumerate(range(0, self.samples.size, step)):
            # A block is due once its audio would have been recorded; pacing against the start
            # time keeps sleep's overshoot from accumulating.
            due = start + (n + 1) * BLOCK_SECONDS / self.speed
            if self._stop.wait(max(0.0, due - time.perf_counter())):
                break
            self.blocks.put(self.samples[offset : offset + step].copy())
        self.blocks.put(END)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class MicrophoneSource:
    """The sounddevice input stream; its callback only copies blocks into the queue."""

    def __init__(self, sd, device: int, blocks: queue.Queue):
        self.sd, self.blocks = sd, blocks
        self.overflows = 0

        def callback(indata, frames, time_info, status):
            if status.input_overflow:
                self.overflows += 1
            self.blocks.put(indata[:, 0].copy())  # indata is reused by PortAudio after we return

        try:
            self.stream = sd.InputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="float32",
                device=device,
                blocksize=int(BLOCK_SECONDS * SAMPLE_RATE),
                callback=callback,
                finished_callback=lambda: self.blocks.put(END),  # the device went away
            )
        except (sd.PortAudioError, ValueError) as error:
            raise DeviceError(f"could not open input device {device} at 16 kHz mono: {error}") from None

    def start(self) -> None:
        try:
            self.stream.start()
        except self.sd.PortAudioError as error:
            raise DeviceError(f"could not start recording: {error}") from None

    def stop(self) -> None:
        self.stream.stop()
        self.stream.close()


# ----- the loop ----------------------------------------------------------------------------------


def run(
    session: LiveSession,
    blocks: queue.Queue,
    source,
    on_update: Callable[[Optional[LiveUpdate]], None],
    on_tick: Callable[[], None] = lambda: None,
) -> Optional[LiveUpdate]:
    """Feed queued blocks to the session until the input ends or Ctrl-C, then its final run.
    ``source`` is already started; it is stopped here."""
    shown = None
    next_tick = 0.0
    try:
        while True:
            try:
                block = blocks.get(timeout=REDRAW_EVERY_S)
            except queue.Empty:
                block = None  # nothing arrived: still show updates that finished meanwhile
            if block is END:
                break
            if block is not None:
                session.feed(block, SAMPLE_RATE)
            update = session.latest()
            if update is not shown:
                shown = update
                on_update(update)
            elif time.perf_counter() >= next_tick:
                on_tick()
                next_tick = time.perf_counter() + REDRAW_EVERY_S
    except KeyboardInterrupt:
        pass
    source.stop()
    # Blocks recorded before the stop still belong to the final transcript.
    while True:
        try:
            block = blocks.get_nowait()
        except queue.Empty:
            break
        if block is not END:
            session.feed(block, SAMPLE_RATE)
    return session.finish()


def main(argv: Optional[list[str]] = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # while the model loads, or a second Ctrl-C during the final run
        print(file=sys.stderr)
        return 130


def _main(argv: Optional[list[str]]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tiny_audio.live",
        description="Live transcription from a local microphone (or a file at real-time pace), "
        "with each pipeline stage's statistics.",
    )
    parser.add_argument("--model", default=None, help="'nano' (default), a Tiny Audio checkpoint directory or Hub id")
    parser.add_argument("--device", help="input device: its index or part of its name (default: the system's)")
    parser.add_argument("--list-devices", action="store_true", help="print the input devices and exit")
    parser.add_argument("--input-file", type=Path, help="play this audio file instead of recording (no microphone)")
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed for --input-file (default 1.0)")
    parser.add_argument(
        "--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
        help=f"the longest piece of uncommitted speech one run may see (default {DEFAULT_MAX_SECONDS:.0f})",
    )
    parser.add_argument("--html", type=Path, help="keep an HTML page with the latest plots here (reloads itself)")
    parser.add_argument(
        "--threads", type=int,
        help="torch threads for the model (default: torch's own; 1 is faster on a machine other programs keep busy)",
    )
    parser.add_argument(
        "--quiet", action="store_true",
        help="print only the final transcript (the default when stdout is not a terminal)",
    )
    args = parser.parse_args(argv)
    if args.speed <= 0:
        parser.error("--speed must be positive")
    if args.max_seconds <= 0:
        parser.error("--max-seconds must be positive")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    quiet = args.quiet or not sys.stdout.isatty()

    # Everything that can fail cheaply fails before the model spends seconds loading.
    try:
        if args.list_devices:
            print(list_devices())
            return 0
        if args.input_file is not None:
            from tiny_audio.pipeline.audio import load_audio

            samples = load_audio(args.input_file)
            sd = device = None
        else:
            sd = import_sounddevice()
            devices, default = query_devices(sd)
            device = choose_input_device(devices, args.device, default)
    except DeviceError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_DEVICE
    except AudioError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR

    try:
        from tiny_audio.loading.load import load_model

        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        model = load_model(args.model)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.max_seconds > model.max_seconds:
        print(f"error: --max-seconds is at most {model.max_seconds:.0f} for this model", file=sys.stderr)
        return EXIT_ERROR

    session = LiveSession(model, max_seconds=args.max_seconds)
    blocks: queue.Queue = queue.Queue()
    try:
        source = FileSource(samples, blocks, args.speed) if sd is None else MicrophoneSource(sd, device, blocks)
        source.start()
    except DeviceError as error:
        session.close()
        print(f"error: {error}", file=sys.stderr)
        return EXIT_DEVICE
    what = f"playing {args.input_file} at {args.speed:g}×" if sd is None else f"listening on device {device}"
    print(f"{what} · Ctrl-C to stop", file=sys.stderr)
    screen = Screen()
    last_page = -HTML_REFRESH_S

    def show(update: Optional[LiveUpdate]) -> None:
        nonlocal last_page
        if not quiet:
            screen.draw(screen_lines(session, update, shutil.get_terminal_size().columns))
        # A page costs ~0.15 s to render; the browser reloads it every HTML_REFRESH_S anyway.
        due = update is not None and (update.final or time.perf_counter() - last_page >= HTML_REFRESH_S / 2)
        if args.html and due:
            write_html(update, args.html, session.heard_seconds)
            last_page = time.perf_counter()

    def tick() -> None:
        if not quiet:
            screen.draw(screen_lines(session, session.latest(), shutil.get_terminal_size().columns))

    final = run(session, blocks, source, on_update=show, on_tick=tick)
    if final is None:
        print("nothing but silence was heard", file=sys.stderr)
        return 0
    show(final)
    if quiet:
        print(final.text)
        if final.result.notice:
            print(f"NOTICE: {final.result.notice}", file=sys.stderr)
    overflows = getattr(source, "overflows", 0)
    if overflows:
        print(f"warning: {overflows} input overflow(s): some audio was dropped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
