"""The served app under hostile and concurrent use, measured against a local launch.

    python bench/reliability.py [--model nano|small-random] [--clients 8] [--requests 25]
                                [--decoding "model's default"|greedy] [--json PATH]

The app runs in a child process, exactly as ``app.py`` serves it in public mode (every call through
the queue, uploads capped, only the chosen model offered; the per-visitor audio budget and the
per-visitor bound on requests waiting or running are off, since every request here comes from one
address), on 127.0.0.1 with a cache folder of its own.
The bench, in this process, then:

1. baseline: each example clip transcribed alone, twice (the serial transcripts and the
   single-request latency);
2. bad input: every case in ``CASES`` (broken and hostile files, resampling and channel bombs,
   names of server paths and unlisted models, the REST route that skips the queue, a server file
   named by path), one at a time; a case passes when it is refused with its expected message,
   no message shows a server path, the server still answers, and a bomb is refused in < 1 s
   having grown the server's peak memory by < 100 MB;
3. load: ``--clients`` clients (each its own session) send ``--requests`` requests each at once,
   the clips in turn; every transcript is compared with the serial one for its clip, and the
   server's resident memory is read after 20 and after all requests;
4. disk: the files left in the server's Gradio cache and download folder, while it runs and
   after it stops.

Traffic goes only to 127.0.0.1 and every loop is bounded. Other processes on the machine inflate
the latencies (not the counts); the load phase prints the machine's load average beside them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tiny_audio.paths import EXAMPLES_DIR
from tiny_audio.report.table import Table

REQUEST_TIMEOUT_S = 600
ABSOLUTE_PATH = re.compile(r"(?<![\w.:~-])/(?:tmp|root|home|etc|var|usr|work|proc)/\S*")


# ----- the server (child process) --------------------------------------------------------------


def small_random_loader(spec: str):
    from tiny_audio.loading.random_models import course_scale_pipeline

    model = course_scale_pipeline(small=True)
    model.stop_ids = model.stop_ids or {0}  # keep runs short
    return model


def serve(model: str, port: int) -> None:
    """Build and launch the app; print READY and the URL; stop when stdin closes."""
    from tiny_audio.app.blocks import build_demo
    from tiny_audio.app.serving import Serving, launch
    from tiny_audio.app.store import ModelStore

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")  # as app.py logs
    loader = small_random_loader if model == "small-random" else None
    store = ModelStore(loader=loader, pinned=model, allowed=(model,))
    store.get(model)
    demo = build_demo(store, quota=None)
    launch(demo, Serving(True, (model,), "127.0.0.1"), server_port=port, prevent_thread_lock=True, quiet=True)
    print("READY", demo.local_url, flush=True)
    sys.stdin.read()
    demo.close()


class Server:
    def __init__(self, model: str):
        self.cache = Path(tempfile.mkdtemp(prefix="reliability-cache-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = dict(os.environ, GRADIO_TEMP_DIR=str(self.cache), TINY_AUDIO_MODEL=model, GRADIO_ANALYTICS_ENABLED="False")
        self.log = self.cache.with_suffix(".log")
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", model, "--port", str(port)], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        stderr=open(self.log, "w"))
        deadline = time.monotonic() + 900
        line = ""
        while time.monotonic() < deadline and not line.startswith("READY"):
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError("the server did not start")
        self.url = line.split()[1]
        import psutil

        self.ps = psutil.Process(self.process.pid)

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20

    def peak_mb(self) -> float:
        for line in Path(f"/proc/{self.ps.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return self.rss_mb()

    def alive(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}config", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    def files(self) -> int:
        downloads = Path(tempfile.gettempdir()) / f"projector-lab-{self.ps.pid}"
        return sum(1 for root in (self.cache, downloads) for p in root.rglob("*") if p.is_file())

    def log_counts(self) -> tuple[int, int]:
        """(tracebacks, one-line refusals) in the server's log so far."""
        text = self.log.read_text(errors="replace")
        return text.count("Traceback (most recent call last)"), len(re.findall(r"tiny_audio\.app: ", text))

    def stop(self) -> int:
        self.process.stdin.close()
        self.process.wait(60)
        return sum(1 for p in self.cache.rglob("*") if p.is_file())


# ----- the cases -------------------------------------------------------------------------------


def tone(seconds, rate=16_000, amplitude=0.3):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def wav(path, samples, rate, subtype="PCM_16"):
    sf.write(path, samples, rate, subtype=subtype)


def raw_wav(path, rate, channels, frames, data_bytes):
    """A PCM-16 WAV header declaring anything, followed by ``data_bytes`` bytes."""
    import struct

    block = channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", frames * block) + bytes(data_bytes)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


RNG = np.random.default_rng(0)
# name → (how to make the upload, expected message, is it a bomb)
AUDIO_CASES = {
    "empty file": (lambda p: p.write_bytes(b""), "not a readable audio file", False),
    "text file named .wav": (lambda p: p.write_text("shopping list\n" * 40), "not a readable audio file", False),
    "random bytes .wav": (lambda p: p.write_bytes(RNG.bytes(4096)), "not a readable audio file", False),
    "random bytes after a RIFF tag": (lambda p: p.write_bytes(b"RIFF" + RNG.bytes(4092)), "not a readable", False),
    "header only, no frames": (lambda p: raw_wav(p, 16_000, 1, 0, 0), "contains no audio|not a readable", False),
    "truncated data": (lambda p: raw_wav(p, 16_000, 1, 16_000, 100), "ms long|not a readable|no audio", False),
    "50 ms clip": (lambda p: wav(p, tone(0.05), 16_000), "50 ms long", False),
    "99 ms at 44.1 kHz": (lambda p: wav(p, tone(0.099, 44_100), 44_100), "ms long", False),
    "digital silence": (lambda p: wav(p, np.zeros(16_000, np.float32), 16_000), "silent", False),
    "constant DC": (lambda p: wav(p, np.full(16_000, 0.5, np.float32), 16_000, "FLOAT"), "silent", False),
    "DC plus a whisper of noise": (lambda p: wav(p, (0.5 + 1e-5 * RNG.standard_normal(16_000)).astype(np.float32),
                                                 16_000, "FLOAT"), "silent", False),
    "one click in silence": (lambda p: wav(p, np.eye(1, 16_000, 8_000, dtype=np.float32)[0] * 0.9, 16_000, "FLOAT"),
                             "silent", False),
    "floats at ±1e6": (lambda p: wav(p, RNG.uniform(-1e6, 1e6, 16_000).astype(np.float32), 16_000, "FLOAT"),
                       r"within \[-1, 1\]", False),
    "int16 values stored as floats": (lambda p: wav(p, tone(1.0) * 32_767, 16_000, "FLOAT"), "integer PCM", False),
    "full-scale clipped noise": (lambda p: wav(p, np.clip(RNG.standard_normal(16_000) * 10, -1, 1).astype(np.float32),
                                               16_000, "FLOAT"), "saturated", False),
    "NaN samples": (lambda p: wav(p, np.full(16_000, np.nan, np.float32), 16_000, "FLOAT"), "NaN", False),
    "infinite samples": (lambda p: wav(p, np.append(tone(1.0), np.inf).astype(np.float32), 16_000, "FLOAT"),
                         "infinite", False),
    "31 s clip": (lambda p: wav(p, tone(31, 8_000), 8_000), "31.0 s long", False),
    "10 min clip": (lambda p: wav(p, np.zeros(8_000 * 600, np.int16), 8_000), "600.0 s long", True),
    "header claims 2^31 frames": (lambda p: raw_wav(p, 16_000, 1, 2**30, 32_000), "s long|not a readable|silent",
                                  True),
    "rate bomb 50,000,017 Hz (2,000 samples)": (lambda p: raw_wav(p, 50_000_017, 1, 2_000, 4_000), "sample rate",
                                                True),
    "rate bomb 4,000,037 Hz (0.2 s)": (lambda p: wav(p, tone(0.2, 4_000_037), 4_000_037), "sample rate", True),
    "rate 1 kHz": (lambda p: wav(p, tone(1.0, 1_000), 1_000), "sample rate", False),
    "rate 500 kHz": (lambda p: wav(p, tone(1.0, 500_000), 500_000), "sample rate", True),
    "rate 0 in the header": (lambda p: raw_wav(p, 0, 1, 16_000, 32_000), "not a readable|sample rate", True),
    "64-channel header": (lambda p: raw_wav(p, 16_000, 64, 1_600, 1_600 * 128), "64 channels", True),
    "odd rate 383,987 Hz (accepted, bounded filter)": (lambda p: wav(p, tone(1.0, 383_987), 383_987), None, True),
}


def run_cases(server: Server, model: str, decoding: str) -> list[dict]:
    import httpx
    from gradio_client import Client, handle_file

    client = Client(server.url, verbose=False, download_files=False, analytics_enabled=False)
    folder = Path(tempfile.mkdtemp(prefix="reliability-cases-"))
    results = []

    def record(name, call, expect, bomb, sent=""):
        peak, start = server.peak_mb(), time.perf_counter()
        try:
            call()
            refused, message = False, ""
        except Exception as error:  # noqa: BLE001 - any refusal is what the case looks at
            refused, message = True, str(error)
        seconds = time.perf_counter() - start
        growth = server.peak_mb() - peak
        shown = message.replace(sent, "") if sent else message
        ok = (refused and re.search(expect, message) is not None) if expect else not refused
        ok = ok and not ABSOLUTE_PATH.search(shown) and server.alive()
        if bomb:  # refused in under a second (accepted ones: model time), and the peak memory held
            ok = ok and (seconds < 1.0 or not expect) and growth < 100
        results.append(dict(case=name, ok=ok, seconds=seconds, growth_mb=growth, bomb=bomb, refused=refused,
                            message=message[:160]))

    for name, (make, expect, bomb) in AUDIO_CASES.items():
        path = folder / f"case{len(results)}.wav"
        make(path)
        record(name, lambda path=path: client.predict(handle_file(str(path)), model, False, False, decoding,
                                                      api_name="/transcribe"), expect, bomb)
    clip = str(EXAMPLES_DIR / "fox_piper.wav")
    def upload_30_mb():
        response = httpx.post(f"{server.url}gradio_api/upload", timeout=60,
                              files={"files": ("big.wav", b"RIFF" + bytes(30 * 2**20))})
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.text[:100]}")

    record("upload of 30 MB", upload_30_mb, "413", True)
    record("no audio", lambda: client.predict(None, model, False, False, decoding, api_name="/transcribe"),
           "Record or upload", False)
    for probe in ("/etc", "/root", "../../", "/no/such/dir", "ck/./ok", "owner/unlisted", "nano@main", "x" * 10_000):
        record(f"model named {probe[:20]!r}", lambda probe=probe: client.predict(handle_file(clip), probe, False,
                                                                                False, decoding, api_name="/transcribe"),
               "not offered on this server", False, sent=probe)
    record("decoding with 1000 beams", lambda: client.predict(handle_file(clip), model, False, False,
                                                              "beam search, 1000 beams", api_name="/transcribe"),
           "not in the list of choices", False)

    def rest(route):
        response = httpx.post(f"{server.url}gradio_api/{route}/transcribe", timeout=30,
                              json={"data": [None, model, False, False, decoding]})
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.text[:100]}")

    for route in ("run", "api"):
        record(f"REST /{route}/transcribe (skips the queue)", lambda route=route: rest(route), "404.*join the queue",
               False)

    def server_file():  # by hand: gradio_client would upload the (client's) file instead
        queue_call(server.url, "transcribe",
                   [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, model, False, False, decoding])

    # Gradio refuses it before the handler runs (its log says why; the visitor gets no details).
    record("a server file named by path (raw queue call)", server_file, "None|not uploaded by a user", False,
           sent="/etc/passwd")
    return results


def queue_call(url: str, api_name: str, data: list) -> dict:
    """One event joined through the queue by hand; raises with the server's message if it fails."""
    import uuid

    import httpx

    config = httpx.get(f"{url}config", timeout=30).json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)
    session = uuid.uuid4().hex
    httpx.post(f"{url}gradio_api/queue/join", timeout=30,
               json={"data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": None}).raise_for_status()
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=60) as stream:
        for line in stream.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed":
                if not message.get("success"):
                    raise RuntimeError(str(message.get("output", {}).get("error")))
                return message["output"]
    raise RuntimeError("the queue closed without an answer")


# ----- baseline and load -----------------------------------------------------------------------


def transcribe_clip(client, clip: Path, model: str, decoding: str) -> str:
    from gradio_client import handle_file

    return client.predict(handle_file(str(clip)), model, False, False, decoding, api_name="/transcribe")[0]


def percentile(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def baseline(server: Server, model: str, decoding: str, clips: list[Path]) -> tuple[dict, list[float]]:
    from gradio_client import Client

    client = Client(server.url, verbose=False, download_files=False, analytics_enabled=False)
    transcribe_clip(client, clips[0], model, decoding)  # warm-up
    serial, latencies = {}, []
    for _ in range(2):
        for clip in clips:
            start = time.perf_counter()
            text = transcribe_clip(client, clip, model, decoding)
            latencies.append(time.perf_counter() - start)
            serial.setdefault(clip.name, text)
    return serial, latencies


def load(server: Server, model: str, decoding: str, clips: list[Path], serial: dict, clients: int,
         requests: int) -> dict:
    from gradio_client import Client

    lock = threading.Lock()
    done, latencies, failures, mismatches, memory = [], [], [], [], {}

    def visitor(index: int) -> None:
        client = Client(server.url, verbose=False, download_files=False, analytics_enabled=False)
        for n in range(requests):
            clip = clips[(index + n) % len(clips)]
            start = time.perf_counter()
            try:
                text = transcribe_clip(client, clip, model, decoding)
            except Exception as error:  # noqa: BLE001 - counted and shown
                with lock:
                    failures.append(f"{clip.name}: {str(error)[:120]}")
                    done.append(1)
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
                if text != serial[clip.name]:
                    mismatches.append(clip.name)
                done.append(1)
                if len(done) == 20:
                    memory["after 20"] = server.rss_mb()

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT_S * requests)
    memory["after all"] = server.rss_mb()
    return dict(requests=len(done), failures=failures, mismatches=mismatches, latencies=latencies, memory=memory,
                wall_s=time.perf_counter() - start, load_average=os.getloadavg()[0])


# ----- report ----------------------------------------------------------------------------------


def report(model, decoding, cases, base, loaded, files_running, files_after, log_counts) -> Table:
    passed = sum(c["ok"] for c in cases)
    bombs = [c for c in cases if c["bomb"]]
    b50 = percentile(base, 50)
    lat = loaded["latencies"]
    rows = [
        ["bad-input cases tried / passed", f"{len(cases)} / {passed}"],
        ["bombs: slowest refusal, largest peak-memory growth",
         f"{max(c['seconds'] for c in bombs if c['refused']):.2f} s, {max(c['growth_mb'] for c in bombs):.0f} MB"],
        ["server log over the cases: tracebacks / one-line messages", f"{log_counts[0]} / {log_counts[1]}"],
        ["requests / failures / transcripts unlike the serial run",
         f"{loaded['requests']} / {len(loaded['failures'])} / {len(loaded['mismatches'])}"],
        ["single request alone: p50, p95", f"{b50:.2f} s, {percentile(base, 95):.2f} s"],
        ["under load: p50, p95 (× the single-request p50)",
         f"{percentile(lat, 50):.2f} s, {percentile(lat, 95):.2f} s "
         f"({percentile(lat, 50) / b50:.1f}×, {percentile(lat, 95) / b50:.1f}×)"],
        ["throughput under load", f"{loaded['requests'] / loaded['wall_s']:.2f} requests/s"],
        ["server memory after 20 / after all requests",
         f"{loaded['memory'].get('after 20', float('nan')):.0f} / {loaded['memory']['after all']:.0f} MB "
         f"({loaded['memory']['after all'] / loaded['memory'].get('after 20', float('nan')) - 1:+.1%})"],
        ["files in the cache: while serving / after stopping", f"{files_running} / {files_after}"],
    ]
    notes = [f"model: {model}; decoding: {decoding}; machine load average during the load phase: "
             f"{loaded['load_average']:.1f} on {os.cpu_count()} cores"]
    notes += [f"FAILED case: {c['case']}: {c['message']!r} ({c['seconds']:.2f} s, {c['growth_mb']:.0f} MB)"
              for c in cases if not c["ok"]]
    notes += [f"failure: {f}" for f in loaded["failures"][:5]] + [f"mismatch: {m}" for m in loaded["mismatches"][:5]]
    return Table(["measure", "value"], rows, notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nano", choices=["nano", "small-random"])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25)
    parser.add_argument("--decoding", default="model's default")
    parser.add_argument("--json")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.port)
    clips = sorted(EXAMPLES_DIR.glob("*.wav"))
    server = Server(args.model)
    try:
        serial, base = baseline(server, args.model, args.decoding, clips)
        print(f"baseline done: p50 {percentile(base, 50):.2f} s", flush=True)
        cases = run_cases(server, args.model, args.decoding)
        print(f"cases done: {sum(c['ok'] for c in cases)} / {len(cases)} passed", flush=True)
        log_counts = server.log_counts()
        loaded = load(server, args.model, args.decoding, clips, serial, args.clients, args.requests)
        files_running = server.files()
    finally:
        files_after = server.stop()
    table = report(args.model, args.decoding, cases, base, loaded, files_running, files_after, log_counts)
    print(table.to_text())
    if args.json:
        Path(args.json).write_text(json.dumps(dict(cases=cases, baseline=base, load=loaded, serial=serial,
                                                   files=[files_running, files_after], log=log_counts), indent=1))


if __name__ == "__main__":
    main()
