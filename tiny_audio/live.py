"""Live transcription in the terminal: ``python -m tiny_audio.live``.

A local microphone (``sounddevice``) or a file played at real-time pace feeds a ``LiveSession``
(streaming.py); the terminal shows the rolling transcript, each stage's RMS/std and the latency
of the latest update, redrawn in place. Ctrl-C or the end of the file runs the model once more on
the whole buffer and prints that final transcript.

Both sources go through the same path: blocks land in a queue (from the audio callback or from a
pacing thread), and the main loop feeds them to the session, whose worker thread runs the model
on the newest audio. ``--input-file`` therefore exercises everything but the microphone itself,
and never imports sounddevice.

sounddevice is imported lazily, here only: without the PortAudio library (``libportaudio2`` on
Debian/Ubuntu) its import raises ``OSError``, which must never break the web app or the tests.
"""

from __future__ import annotations

import argparse
import html
import os
import queue
import shutil
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .audio import SAMPLE_RATE, AudioError
from .streaming import DEFAULT_MAX_SECONDS, LiveSession, LiveUpdate

BLOCK_SECONDS = 0.1
HTML_REFRESH_S = 2
TRANSCRIPT_LINES = 4  # the rolling transcript keeps the last few lines on screen
REDRAW_EVERY_S = 0.25  # the buffer clock ticks even when no update arrives

EXIT_DEVICE = 2  # no PortAudio, no sounddevice, no such input device
EXIT_ERROR = 1  # unreadable file, model that fails to load

END = object()  # queued by a source when its input ends

PORTAUDIO_MISSING = (
    "the PortAudio library is missing (sounddevice needs it for the microphone): install it "
    "(Debian/Ubuntu: sudo apt-get install libportaudio2; macOS: brew install portaudio), "
    "or play a file with --input-file FILE"
)
SOUNDDEVICE_MISSING = "sounddevice is not installed: pip install sounddevice (or play a file with --input-file FILE)"


class DeviceError(Exception):
    """No way to record from the requested input; the message says what exists and what to do."""


# ----- input devices ---------------------------------------------------------------------------


def import_sounddevice():
    try:
        import sounddevice
    except OSError:  # the wheel imports, but finds no PortAudio shared library
        raise DeviceError(PORTAUDIO_MISSING) from None
    except ImportError:
        raise DeviceError(SOUNDDEVICE_MISSING) from None
    return sounddevice


def input_devices(devices: list[dict]) -> list[dict]:
    return [d for d in devices if d.get("max_input_channels", 0) > 0]


def describe_devices(devices: list[dict]) -> str:
    """``input devices: 0 'USB mic', 4 'pulse'``: how errors list what there is."""
    inputs = input_devices(devices)
    if inputs:
        return "input devices: " + ", ".join(f"{d['index']} {d['name']!r}" for d in inputs)
    if devices:
        return f"no audio input device found (PortAudio sees only {len(devices)} output device(s))"
    return "no audio input device found (PortAudio sees no audio device at all)"


def choose_input_device(devices: list[dict], requested: Optional[str] = None, default: Optional[int] = None) -> int:
    """The index of the input device to record from.

    ``devices``: as ``sounddevice.query_devices()`` returns them (dicts with ``name``, ``index``,
    ``hostapi``, ``max_input_channels``); ``requested``: an index or a case-insensitive part of a
    name (None: the system's default input, else the first input device); ``default``: the
    system's default input index (-1 or None when there is none).
    """
    inputs = input_devices(devices)
    if not inputs:
        raise DeviceError(describe_devices(devices))
    if requested is None or requested == "":
        if default is not None and any(d["index"] == default for d in inputs):
            return default
        return inputs[0]["index"]
    if requested.strip().isdigit():
        index = int(requested)
        if any(d["index"] == index for d in inputs):
            return index
        raise DeviceError(f"no input device with index {index}; {describe_devices(devices)}")
    wanted = requested.lower()
    matches = [d for d in inputs if wanted in d["name"].lower()]
    exact = [d for d in matches if d["name"].lower() == wanted]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]["index"]
    if matches:
        names = ", ".join(f"{d['index']} {d['name']!r}" for d in matches)
        raise DeviceError(f"input device {requested!r} is ambiguous: it matches {names}; give its index")
    raise DeviceError(f"no input device matches {requested!r}; {describe_devices(devices)}")


def query_devices(sd) -> tuple[list[dict], Optional[int]]:
    """All devices and the default input index, as plain data."""
    try:
        devices = [dict(d) for d in sd.query_devices()]
        default = sd.default.device[0]
    except sd.PortAudioError as error:
        raise DeviceError(f"PortAudio could not list the audio devices ({error})") from None
    return devices, (default if isinstance(default, int) and default >= 0 else None)


def list_devices() -> str:
    sd = import_sounddevice()
    devices, default = query_devices(sd)
    inputs = input_devices(devices)
    if not inputs:
        return describe_devices(devices)
    hostapis = {i: api["name"] for i, api in enumerate(sd.query_hostapis())}
    lines = []
    for d in inputs:
        mark = "*" if d["index"] == default else " "
        lines.append(
            f"{mark}{d['index']:>3}  {d['name']}  ({hostapis.get(d['hostapi'], '?')}, "
            f"{d['max_input_channels']} in, {d.get('default_samplerate', 0):.0f} Hz)"
        )
    return "\n".join(lines)


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


# ----- display -----------------------------------------------------------------------------------

# Short names for the stage line; other stages keep their first word.
STAGE_ABBREVIATIONS = {
    "encoder output": "enc",
    "stacked": "stack",
    "pre-norm": "pre",
    "post-norm": "post",
    "generated tokens": "gen",
}


def abbreviate(name: str) -> str:
    return STAGE_ABBREVIATIONS.get(name, name.split()[0][:6])


def stage_line(update: LiveUpdate, width: int = 1000) -> str:
    """``rms/std  enc 1.25/1.25 · stack 1.23/1.23 · … · post 1/1``; when that is wider than the
    terminal, only the encoder, the projector's output and the generated tokens stay."""
    stages = list(update.result.stages)
    if not stages:
        return ""

    def line(chosen) -> str:
        return "rms/std  " + " · ".join(f"{abbreviate(s.name)} {s.rms:.3g}/{s.std:.3g}" for s in chosen)

    full = line(stages)
    if len(full) <= width:
        return full
    ends = [s for s in stages if s.name in ("encoder output", "generated tokens")]
    projector_out = [s for s in stages if s.name not in ("encoder output", "generated tokens")][-1:]
    short = line(ends[:1] + projector_out + ends[1:])
    return short if len(short) <= width else short[: width - 1] + "…"


def status_line(session: LiveSession, update: Optional[LiveUpdate]) -> str:
    buffer = f"buffer {session.buffer.seconds:.1f}/{session.buffer.max_seconds:.0f} s"
    if update is None:
        return f"listening · {buffer} · heard {session.heard_seconds:.1f} s · waiting for speech"
    if update.final:
        return f"final run on the whole buffer ({update.buffer_seconds:.1f} s) took {update.latency_s:.2f} s"
    return (
        f"update {session.model_runs} · {buffer} · heard {session.heard_seconds:.1f} s · "
        f"latency {update.latency_s:.2f} s on {update.buffer_seconds:.1f} s"
    )


class Screen:
    """Redraws a block of lines in place with ANSI escapes (cursor up, clear to the end)."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.drawn = 0

    def draw(self, lines: list[str]) -> None:
        width = shutil.get_terminal_size().columns
        # A line wider than the terminal would wrap and break the count of lines to go back over.
        lines = [line if len(line) < width else line[: width - 2] + "…" for line in lines]
        erase = f"\x1b[{self.drawn}F\x1b[J" if self.drawn else ""
        self.out.write(erase + "\n".join(lines) + "\n")
        self.out.flush()
        self.drawn = len(lines)


def screen_lines(session: LiveSession, update: Optional[LiveUpdate], width: int) -> list[str]:
    lines = [status_line(session, update)]
    if update is not None:
        if update.result.notice:  # e.g. the untrained projector: the text is not a transcript
            lines += textwrap.wrap(f"NOTICE: {update.result.notice}", width - 1)
        lines.append(stage_line(update, width - 1))
        wrapped = textwrap.wrap(update.text, width - 1) or ["…"]
        lines += wrapped if update.final else wrapped[-TRANSCRIPT_LINES:]
    return lines


# ----- HTML page ---------------------------------------------------------------------------------


def render_html(update: LiveUpdate, heard_seconds: Optional[float] = None) -> str:
    """A self-contained page: transcript, status, the stage histograms and the projector-vs-LLM
    overlay (plotly.js inline, so it works offline), reloading itself every few seconds."""
    import plotly.io as pio

    from . import plots

    figures = [plots.stage_histograms(update.result), plots.projector_vs_llm(update.result)]
    divs = [
        pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
        for i, fig in enumerate(figures)
    ]
    kind = "final run on the whole buffer" if update.final else "latest update"
    heard = f" ({heard_seconds:.1f} s heard)" if heard_seconds is not None else ""
    status = (
        f"{kind} · {update.buffer_seconds:.1f} s of audio{heard} · latency {update.latency_s:.2f} s · "
        f"{time.strftime('%H:%M:%S')}"
    )
    notice = f'<p class="notice">{html.escape(update.result.notice)}</p>' if update.result.notice else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{HTML_REFRESH_S}">
<title>Projector Lab · live</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
.transcript {{ font-size: 1.3em; }} .status {{ color: #555; }} .notice {{ color: #8a5a00; }}
</style>
</head>
<body>
<h1>Projector Lab · live</h1>
<p class="transcript">{html.escape(update.text) or "…"}</p>
<p class="status">{html.escape(status)}</p>
{notice}
{"".join(divs)}
</body>
</html>
"""


def write_html(update: LiveUpdate, path: Path, heard_seconds: Optional[float] = None) -> None:
    """Replace the page atomically: a browser reloading it never reads half a file."""
    path = Path(path)
    page = render_html(update, heard_seconds)
    # Beside the target (os.replace must not cross file systems); created with the umask's
    # permissions, unlike mkstemp's private 0600, so a web server can read the page too.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# ----- the loop ----------------------------------------------------------------------------------


def run(
    session: LiveSession,
    blocks: queue.Queue,
    source,
    on_update: Callable[[Optional[LiveUpdate]], None],
    on_tick: Callable[[], None] = lambda: None,
) -> Optional[LiveUpdate]:
    """Feed queued blocks to the session until the input ends or Ctrl-C, then the final run.
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
        help=f"rolling buffer: transcribe the last this many seconds (default {DEFAULT_MAX_SECONDS:.0f})",
    )
    parser.add_argument("--html", type=Path, help="keep an HTML page with the latest plots here (reloads itself)")
    parser.add_argument(
        "--quiet", action="store_true",
        help="print only the final transcript (the default when stdout is not a terminal)",
    )
    args = parser.parse_args(argv)
    if args.speed <= 0:
        parser.error("--speed must be positive")
    if args.max_seconds <= 0:
        parser.error("--max-seconds must be positive")
    quiet = args.quiet or not sys.stdout.isatty()

    # Everything that can fail cheaply fails before the model spends seconds loading.
    try:
        if args.list_devices:
            print(list_devices())
            return 0
        if args.input_file is not None:
            from .audio import load_audio

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
        from .loading import load_model

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
