"""Live transcription latency on this CPU with the nano model, for windows up to 15 s; and a long
session (``--session``: minutes of speech, its word error rate beside the same sentences
transcribed offline one by one; bench/live_session.py).

    python bench/live_latency.py [--seconds 15] [--chunk 0.5] [--tail-tokens 12[,6,4]] [--json PATH]
    python bench/live_latency.py --session [--speed 1] [--threads N] [--json PATH]

Target: from a chunk's arrival to the transcript that includes it ≤ 1 s, for windows up to 15 s.

Three measurements on the same audio (the example clips joined with short pauses), in one process:
1. a full re-transcription (``model.transcribe(buffer)``, default decode length) of 2.5, 5, 10 and
   15 s — the cost the tail-limited live updates avoid;
2. one tail-limited update alone (the settled start of the answer forced, at most ``tail_tokens``
   new), fastest of a few runs — a run's own cost, with its steps: encoder (on the buffer's own length
   for nano), prefill (grows with the buffer), decode (per token). In float32 and, where the CPU
   computes bfloat16 natively, in the bfloat16 copy the live updates use, side by side: the ratio
   and whether both gave the same tokens;
3. the live path: ``--chunk`` pieces fed at real-time pace into a ``LiveSession``, whose worker
   thread runs the model on the newest window, as ``python -m tiny_audio.live`` does (its updates
   in bfloat16 where available; then again in float32 to compare). Pauses commit the text up to
   them, so windows stay shorter than the audio fed.
   Per update: latency (``LiveUpdate.latency_s``: arrival of the newest chunk the run included →
   its result, the figure the app shows) and the run's own compute; per speech chunk: arrival →
   the first update that includes it (a chunk that comes while the worker is busy waits for the
   rest of that run, then for the next). Tabled by buffer length: 0–5, 5–10, 10–15 s.

Each update decodes at most ``tail_tokens`` new tokens; the full runs decode until the model
stops (or its length limit). Other processes inflate
every figure: each section prints the share of the machine's CPU time they took meanwhile.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tiny_audio.live.runner import model_for_updates  # noqa: E402  (after the path is set)
from tiny_audio.live.streaming import DEFAULT_TAIL_TOKENS  # noqa: E402
from tiny_audio.pipeline.audio import SAMPLE_RATE  # noqa: E402

TARGET_S = 1.0
BUCKETS = ((0.0, 5.0), (5.0, 10.0), (10.0, 15.0))
FULL_RUN_SECONDS = (2.5, 5.0, 10.0, 15.0)
PAUSE_S = 0.4
STEPS = ("encoder", "prefill", "decode")
SETTLED_TOKENS_PER_S = 2.0  # about the rate of English speech in tokens: what the runs agree on


class CpuShare:
    """How much of the machine's CPU time other processes took since ``start``, from
    /proc/stat (Linux): a loaded machine inflates every latency here."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            # user nice system idle iowait irq softirq steal (guest time is already in user)
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + fields[4]  # idle + iowait
        ours = sum(os.times()[:2])  # user + system seconds of this process
        return sum(fields) - idle, sum(fields), ours

    def others(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        busy, total = (end[0] - self.start[0]) / ticks, (end[1] - self.start[1]) / ticks
        return max(0.0, busy - (end[2] - self.start[2])) / total if total else None


def speech(seconds: float) -> np.ndarray:
    """The example clips in turn, each followed by a short pause, to exactly ``seconds`` at 16 kHz."""
    import soundfile as sf

    from tiny_audio.pipeline.audio import resample, to_mono
    from tiny_audio.app.examples import example_clips

    clips = []
    for wav, _ in example_clips():
        samples, rate = sf.read(wav, dtype="float32")
        clips.append(resample(to_mono(samples), rate, SAMPLE_RATE))
        clips.append(np.zeros(int(PAUSE_S * SAMPLE_RATE), dtype=np.float32))
    joined = np.concatenate(clips)
    repeats = int(np.ceil(seconds * SAMPLE_RATE / joined.size))
    return np.tile(joined, repeats)[: int(seconds * SAMPLE_RATE)]


def live_run(model, samples: np.ndarray, chunk_s: float, tail_tokens: int,
             fast_updates: bool = True) -> tuple[list[dict], list[dict]]:
    """Feed ``samples`` in real time. Returns one record per update the worker produced, and one
    per speech chunk: its wait from arrival to the first update that included it."""
    from tiny_audio.pipeline.audio import SILENCE_PEAK
    from tiny_audio.live.streaming import LiveSession

    session = LiveSession(model, max_seconds=30.0, tail_tokens=tail_tokens, fast_updates=fast_updates)
    step = int(chunk_s * SAMPLE_RATE)
    chunks = [samples[i : i + step] for i in range(0, samples.size, step)]
    arrivals: list[float] = []
    seen: list[tuple[float, object]] = []  # (when it was noticed, update)
    done = threading.Event()

    def watch() -> None:
        # The worker publishes updates through ``latest()``; a 2 ms poll stamps when each lands.
        last = None
        while not done.is_set():
            update = session.latest()
            if update is not last:
                seen.append((time.perf_counter(), update))
                last = update
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    for n, chunk in enumerate(chunks):
        # A chunk arrives once its audio has been "recorded": real-time pace, without drift.
        time.sleep(max(0.0, start + (n + 1) * chunk_s - time.perf_counter()))
        arrivals.append(time.perf_counter())
        session.feed(chunk, SAMPLE_RATE)
    # Let the worker finish the run that includes the last chunk.
    total = samples.size / SAMPLE_RATE
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        latest = session.latest()
        if latest is not None and latest.audio_end_s >= total - 1e-6:
            break
        time.sleep(0.01)
    time.sleep(0.01)
    done.set()
    watcher.join()
    session.close()

    # Silent chunks wake no run (streaming.py), so only speech chunks wait for an update.
    speech_chunks = [float(np.abs(c).max()) >= SILENCE_PEAK for c in chunks]
    updates, waits, covered, committed = [], [], 0, 0
    for noticed, update in seen:
        included = math.ceil(update.audio_end_s * SAMPLE_RATE / step - 1e-6)  # chunks up to its audio's end
        waits += [
            {"buffer_s": update.buffer_seconds, "latency_s": noticed - arrivals[i]}
            for i in range(covered, included)
            if speech_chunks[i]
        ]
        timings = update.result.timings
        tokens = len(update.result.token_ids)
        updates.append(
            {
                "buffer_s": update.buffer_seconds,
                "latency_s": update.latency_s,
                "compute_s": timings["total"],
                **{f"{name}_s": timings.get(name, 0.0) for name in STEPS},
                "tokens": tokens,
                "new_tokens": tokens - committed,  # the run was forced to start with the committed ones
                "agreed_tokens": update.agreed_tokens,
            }
        )
        covered, committed = max(covered, included), update.agreed_tokens  # a commit starts a window: 0
    return updates, waits


def full_runs(model, samples: np.ndarray) -> list[dict]:
    from tiny_audio.pipeline.audio import SAMPLE_RATE
    from tiny_audio.pipeline.decoding import default_max_new_tokens

    rows = []
    for seconds in FULL_RUN_SECONDS:
        start = time.perf_counter()
        result = model.transcribe(samples[: int(seconds * SAMPLE_RATE)], beams=1)
        rows.append(
            {
                "buffer_s": seconds,
                "wall_s": time.perf_counter() - start,
                "tokens": len(result.token_ids),
                "max_new_tokens": default_max_new_tokens(seconds),
                **{f"{name}_s": result.timings.get(name, 0.0) for name in STEPS},
                "token_ids": result.token_ids,
            }
        )
    return rows


def isolated_updates(models: dict, samples: np.ndarray, tails: list[int], full: list[dict], repeats: int) -> list[dict]:
    """One tail-limited update alone (no worker, no waiting), fastest of ``repeats``, for each of
    ``models`` (precision → pipeline) in turn: what a run costs once the machine's other load is
    taken out. The start of the full run's answer is forced as the settled part,
    SETTLED_TOKENS_PER_S per second of buffer, as in a live session."""
    from tiny_audio.pipeline.audio import SAMPLE_RATE

    rows = []
    for run in full:
        seconds = run["buffer_s"]
        forced = run["token_ids"][: int(SETTLED_TOKENS_PER_S * seconds)]
        row = {"buffer_s": seconds, "forced_tokens": len(forced), "runs": {}}
        for precision, model in models.items():
            for tail in tails:
                best = None
                for _ in range(repeats):
                    result = model.transcribe(
                        samples[: int(seconds * SAMPLE_RATE)], max_new_tokens=tail, continue_from=forced, beams=1
                    )
                    if best is None or result.timings["total"] < best["total"]:
                        best = dict(result.timings, new_tokens=len(result.token_ids) - len(forced),
                                    token_ids=result.token_ids)
                row["runs"][f"{precision} tail {tail}"] = best
        first = next(iter(models))
        reference = {tail: row["runs"][f"{first} tail {tail}"]["token_ids"] for tail in tails}
        for precision in models:  # did the faster precision say the same thing?
            for tail in tails:
                best = row["runs"][f"{precision} tail {tail}"]
                best["same_tokens_as_float32"] = best.pop("token_ids") == reference[tail]
        rows.append(row)
    return rows


def in_bucket(rows: list[dict], low: float, high: float) -> list[dict]:
    return [r for r in rows if low < r["buffer_s"] <= high + 1e-6]


def bucket_table(updates: list[dict], waits: list[dict]) -> list[dict]:
    table = []
    for low, high in BUCKETS:
        rows, chunk_waits = in_bucket(updates, low, high), [w["latency_s"] for w in in_bucket(waits, low, high)]
        row = {"bucket": f"{low:.0f}–{high:.0f} s", "updates": len(rows)}
        if rows:
            row.update(
                median_latency_s=statistics.median(r["latency_s"] for r in rows),
                max_latency_s=max(r["latency_s"] for r in rows),
                median_chunk_latency_s=statistics.median(chunk_waits) if chunk_waits else None,
                max_chunk_latency_s=max(chunk_waits) if chunk_waits else None,
                median_compute_s=statistics.median(r["compute_s"] for r in rows),
                **{f"median_{name}_s": statistics.median(r[f"{name}_s"] for r in rows) for name in STEPS},
                median_tokens=statistics.median(r["tokens"] for r in rows),
                median_new_tokens=statistics.median(r["new_tokens"] for r in rows),
            )
        table.append(row)
    return table


def print_share(share: float | None) -> None:
    if share is not None:
        print(f"other processes took {share:.0%} of the machine's CPU time meanwhile")


def ms(value) -> str:
    return "–" if value is None else f"{1000 * value:.0f}"


def print_report(tail_tokens: int, chunk_s: float, table: list[dict]) -> dict:
    print(
        f"\nlive, tail_tokens={tail_tokens}, {chunk_s} s chunks (ms). latency: newest chunk of the update "
        "(LiveUpdate.latency_s); every chunk: each speech chunk to the first update with it"
    )
    header = (
        f"{'buffer':<9}{'updates':>8}{'latency':>14}{'every chunk':>14}"
        f"{'compute':>9}{'encoder':>9}{'prefill':>9}{'decode':>9}{'new/all':>11}"
    )
    print(header)
    print(f"{'':<17}{'med / max':>14}{'med / max':>14}")
    print("-" * len(header))
    for row in table:
        if not row["updates"]:
            print(f"{row['bucket']:<9}{0:>8}")
            continue
        latency = f"{ms(row['median_latency_s'])} / {ms(row['max_latency_s'])}"
        chunks = f"{ms(row['median_chunk_latency_s'])} / {ms(row['max_chunk_latency_s'])}"
        print(
            f"{row['bucket']:<9}{row['updates']:>8}{latency:>14}{chunks:>14}{ms(row['median_compute_s']):>9}"
            f"{ms(row['median_encoder_s']):>9}{ms(row['median_prefill_s']):>9}{ms(row['median_decode_s']):>9}"
            f"{row['median_new_tokens']:>6.0f}/{row['median_tokens']:<4.0f}"
        )
    verdicts = {}
    for name, key in (("latency", "max_latency_s"), ("every chunk", "max_chunk_latency_s")):
        worst = max((r[key] or 0 for r in table if r["updates"]), default=float("inf"))
        verdicts[name] = worst <= TARGET_S
        verdict = "met" if worst <= TARGET_S else f"missed by {1000 * (worst - TARGET_S):.0f} ms"
        print(f"target ≤ {TARGET_S:.0f} s by {name} (max, buffers ≤ 15 s): {verdict}")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="audio fed in total (default 15)")
    parser.add_argument("--chunk", type=float, default=0.5, help="chunk length in seconds (default 0.5; the app's browser microphone sends 0.1)")
    parser.add_argument(
        "--tail-tokens",
        default=str(DEFAULT_TAIL_TOKENS),
        help=f"comma-separated tail lengths to run one after the other (default {DEFAULT_TAIL_TOKENS}, the session's)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each isolated update (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--session", action="store_true", help="only the long session (bench/live_session.py)")
    parser.add_argument("--speed", type=float, default=1.0, help="--session: playback speed (default 1, real time)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    tails = [int(t) for t in args.tail_tokens.split(",")]

    import torch

    from tiny_audio import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.session:
        from live_session import run_session

        model = load_model()
        model.transcribe(speech(1.0), max_new_tokens=4, beams=1)  # warm-up: first-call allocations
        print(f"nano on CPU ({torch.get_num_threads()} threads, {os.cpu_count()} cores); "
              f"load average {os.getloadavg()[0]:.2f}")
        figures = run_session(model, speed=args.speed)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1))
        return

    samples = speech(args.seconds)
    load_before = os.getloadavg()
    model = load_model()
    model.transcribe(samples[:SAMPLE_RATE], max_new_tokens=4, beams=1)  # warm-up: first-call allocations
    print(
        f"nano on CPU ({torch.get_num_threads()} threads, {os.cpu_count()} cores), {args.seconds:.1f} s of "
        f"example speech in {args.chunk} s chunks at real-time pace; load average {load_before[0]:.2f}"
    )

    figures: dict = {
        "threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "seconds": args.seconds,
        "chunk_s": args.chunk,
        "target_s": TARGET_S,
        "load_average_before": load_before[0],
    }

    share = CpuShare()
    full = full_runs(model, samples)
    figures["full_runs"] = [{k: v for k, v in r.items() if k != "token_ids"} for r in full]
    figures["full_runs_others_cpu_share"] = share.others()
    print("\nfull re-transcription of the buffer (default decode length) (ms)")
    header = f"{'buffer':<9}{'wall':>8}{'encoder':>9}{'prefill':>9}{'decode':>9}{'tokens':>8}{'max new':>9}"
    print(header)
    print("-" * len(header))
    for r in full:
        print(
            f"{r['buffer_s']:<9.1f}{ms(r['wall_s']):>8}{ms(r['encoder_s']):>9}{ms(r['prefill_s']):>9}"
            f"{ms(r['decode_s']):>9}{r['tokens']:>8}{r['max_new_tokens']:>9}"
        )
    print_share(figures["full_runs_others_cpu_share"])

    # The live updates' own pipeline (streaming.model_for_updates): bfloat16 where the CPU has it.
    fast = model_for_updates(model)
    models = {"float32": model} | ({"bfloat16": fast} if fast is not model else {})
    fast.transcribe(samples[:SAMPLE_RATE], max_new_tokens=4, beams=1)
    share = CpuShare()
    isolated = isolated_updates(models, samples, tails, full, args.repeats)
    figures["isolated_updates"] = isolated
    figures["isolated_others_cpu_share"] = share.others()
    print(f"\none tail-limited update alone, fastest of {args.repeats} (ms): its run in each precision, "
          "then the live precision's steps")
    keys = list(isolated[0]["runs"])
    live_key = keys[-len(tails)]  # the live precision's first tail
    header = f"{'buffer':<9}{'forced':>7}" + "".join(f"{k.replace(' tail ', '/'):>12}" for k in keys)
    header += f"{'ratio':>7}   {'encoder':>8}{'prefill':>8}{'/token':>8}{'same':>6}"
    print(header)
    print("-" * len(header))
    for row in isolated:
        live = row["runs"][live_key]
        per_token = live["decode"] / max(live["new_tokens"], 1)
        ratio = row["runs"][keys[0]]["total"] / live["total"]
        print(
            f"{row['buffer_s']:<9.1f}{row['forced_tokens']:>7}"
            + "".join(f"{ms(row['runs'][k]['total']):>12}" for k in keys)
            + f"{ratio:>6.2f}x   {ms(live['encoder']):>8}{ms(live['prefill']):>8}{ms(per_token):>8}"
            + f"{'yes' if live['same_tokens_as_float32'] else 'no':>6}"
        )
    print(
        f"(ratio: {keys[0]} / {live_key}; steps of {live_key}; same: the same tokens as float32. A live "
        f"update's latency is its run plus the wait for the worker: up to one chunk, {args.chunk} s, "
        "when the worker is always busy)"
    )
    print_share(figures["isolated_others_cpu_share"])

    figures["runs"] = []
    for precision in reversed(list(models)):  # the live default first, then float32 to compare
        for tail in tails:
            share = CpuShare()
            updates, waits = live_run(model, samples, args.chunk, tail, fast_updates=precision != "float32")
            table = bucket_table(updates, waits)
            print(f"\n[{precision} updates]", end="")
            met = print_report(tail, args.chunk, table)
            others = share.others()
            print_share(others)
            figures["runs"].append(
                {
                    "precision": precision,
                    "tail_tokens": tail,
                    "updates": updates,
                    "chunk_waits": waits,
                    "buckets": table,
                    "target_met": met,
                    "others_cpu_share": others,
                }
            )

    figures["load_average_after"] = os.getloadavg()[0]
    print(f"\nload average after: {figures['load_average_after']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
