"""The course's real-scale pipeline on a GPU, measured against the hardware floor.

    python bench/gpu_scale.py                      # CUDA, bf16, HuBERT-xlarge + 121.6M SwiGLU + SmolLM3-3B
    python bench/gpu_scale.py --small --device cpu # same shapes, tiny; what CI runs

Random weights (timing does not depend on their values). For 3 s and 30 s clips, after
warm-up: per-step times with CUDA events (features, encoder, projector, prefill, decode per
token for a fixed number of new tokens), plain decoding vs the static-cache CUDA-graph decoding
the app uses, traced vs untraced end to end, peak GPU memory. The floors: decoder weight bytes ÷
measured copy bandwidth per decode token; FLOPs (counted by torch's FlopCounterMode) ÷ measured
matmul rate for the encoder, the projector and the prefill. Also checks that the trace does not
synchronise with the GPU before its single transfer, and that graph decoding yields the plain
path's tokens (float32, small scale).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tiny_audio.pipeline.audio import SAMPLE_RATE  # noqa: E402

# ----- hardware floor -----------------------------------------------------------------------


def measure_bandwidth(device: torch.device) -> float:
    """Bytes per second of a large device-to-device copy (read + write counted)."""
    numel = (1 << 28) if device.type == "cuda" else (1 << 24)
    src = torch.empty(numel, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    seconds = median_time(lambda: dst.copy_(src), device, repeats=10)
    return 2 * src.numel() * src.element_size() / seconds


def measure_matmul(device: torch.device, dtype: torch.dtype) -> float:
    """FLOP per second of a large square matmul."""
    n = 8192 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds = median_time(lambda: a @ b, device, repeats=10)
    return 2 * n**3 / seconds


def count_flops(fn) -> int | None:
    """FLOPs of one call as torch's FlopCounterMode counts them; None where it cannot (some
    torch releases reject grouped-query attention shapes)."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter:
            fn()
    except (AssertionError, RuntimeError):
        return None
    return counter.get_total_flops()


# ----- timing helpers -----------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn, device: torch.device, repeats: int = 5, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class EventClock:
    """The pipeline's ``lap`` interface, recording CUDA events instead of waiting for the GPU."""

    def __init__(self, device: torch.device):
        self.device = device
        self.marks: list[tuple[str, object]] = []
        self.lap("start")

    def lap(self, name: str) -> None:
        if self.device.type == "cuda":
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append((name, event))
        else:
            self.marks.append((name, time.perf_counter()))

    def seconds(self) -> dict[str, float]:
        synchronize(self.device)
        out = {}
        for (_, a), (name, b) in zip(self.marks, self.marks[1:]):
            out[name] = a.elapsed_time(b) / 1000 if self.device.type == "cuda" else b - a
        return out


def speechlike(seconds: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 40 * np.sin(2 * np.pi * 0.7 * t)) / rate
    return (0.1 * sum(np.sin(h * phase) / h for h in range(1, 8))).astype(np.float32)


# ----- measurements -------------------------------------------------------------------------


def step_times(model, samples: np.ndarray, new_tokens: int, fast: bool) -> dict[str, float]:
    """One pass through the pipeline's pieces with per-step events (no trace)."""
    device = model.device
    model.fast_decode = fast
    with torch.inference_mode():
        synchronize(device)
        clock = EventClock(device)
        frames = model.encode(samples, clock)  # laps "features" and "encoder"
        audio = model.project(frames)
        clock.lap("projector")
        prompt = model.prompt_embeddings(audio)
        tokens = model.generate(prompt, new_tokens, clock)
    times = clock.seconds()
    times["decode_per_token"] = times["decode"] / max(len(tokens) - 1, 1)
    times["tokens"] = tokens
    times["prompt_positions"] = prompt.shape[1]
    return times


def trace_sync_check(model, samples: np.ndarray) -> str:
    """Run the trace's device phase with CUDA's sync debugging set to raise."""
    from tiny_audio.pipeline.stages import ENCODER_OUTPUT
    from tiny_audio.pipeline.trace import Tracer

    if model.device.type != "cuda":
        return "n/a (CPU)"
    with torch.inference_mode():
        tracer = Tracer(bins=model.bins)
        frames = model.encode(samples)
        tracer.record(ENCODER_OUTPUT, frames)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            model.project(frames, record=tracer)
            pending = tracer.summarize(model.native, output_stage=model.projector.stages[-1])
        except RuntimeError as error:
            return f"SYNC inside the trace: {str(error).splitlines()[0]}"
        finally:
            torch.cuda.set_sync_debug_mode(0)
        pending.collect()
    return "no synchronisation before the single transfer"


def graph_matches_plain(device: torch.device, new_tokens: int) -> str:
    """float32, small shapes: CUDA-graph decoding vs the plain loop, same inputs."""
    from tiny_audio.loading.random_models import course_scale_pipeline

    model = course_scale_pipeline(small=True, device=str(device), dtype=torch.float32)
    samples = speechlike(3.0)
    fast = model.transcribe(samples, max_new_tokens=new_tokens, trace=False).token_ids
    model.fast_decode = False
    plain = model.transcribe(samples, max_new_tokens=new_tokens, trace=False).token_ids
    same = fast == plain
    return f"{'identical' if same else 'DIFFERENT'} ({len(fast)} tokens, {len(set(plain))} distinct)"


def run(args) -> dict:
    from tiny_audio.loading.random_models import course_scale_pipeline

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "dtype": str(dtype), "scale": "small" if args.small else "course",
                    "new_tokens": args.new_tokens, "torch": torch.__version__, "compile": args.compile}
    import transformers

    report["transformers"] = transformers.__version__

    report["bandwidth_Bps"] = measure_bandwidth(device)
    report["matmul_flops"] = measure_matmul(device, dtype)
    log(f"copy bandwidth {report['bandwidth_Bps'] / 1e12:.3g} TB/s, matmul {report['matmul_flops'] / 1e12:.3g} TFLOP/s")

    start = time.perf_counter()
    model = course_scale_pipeline(small=args.small, device=str(device), dtype=dtype, fast_decode=True,
                                  compile=args.compile)
    report["build_s"] = time.perf_counter() - start
    weight_bytes = sum(p.numel() * p.element_size() for p in model.decoder.parameters())
    report["decoder_weight_bytes"] = weight_bytes
    report["params"] = {
        name: sum(p.numel() for p in module.parameters())
        for name, module in (("encoder", model.encoder.model), ("projector", model.projector), ("decoder", model.decoder))
    }
    log(f"built in {report['build_s']:.1f} s: {report['params']}")

    report["clips"] = {}
    for seconds in args.clips:
        samples = speechlike(seconds)
        clip: dict = {}
        for _ in range(2):  # warm-up: graph capture, and compilations with --compile
            model.transcribe(samples, max_new_tokens=args.new_tokens)
            step_times(model, samples, args.new_tokens, fast=True)
            step_times(model, samples, args.new_tokens, fast=False)
        fast_runs = [step_times(model, samples, args.new_tokens, fast=True) for _ in range(args.runs)]
        plain_runs = [step_times(model, samples, args.new_tokens, fast=False) for _ in range(args.runs)]
        model.fast_decode = True
        for key in ("features", "encoder", "projector", "prefill", "decode", "decode_per_token"):
            clip[key] = statistics.median(r[key] for r in fast_runs)
            clip["plain_" + key] = statistics.median(r[key] for r in plain_runs)
        clip["same_tokens_fast_vs_plain"] = sum(
            a == b for a, b in zip(fast_runs[0]["tokens"], plain_runs[0]["tokens"])
        )
        clip["prompt_positions"] = fast_runs[0]["prompt_positions"]
        static = model.static_decoder
        clip["decode_path"] = "CUDA graph" if static._graph is not None else f"eager static cache ({static.graph_error or device.type})"

        traced, untraced, plain_e2e = [], [], []
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(args.runs):
            for bucket, trace, fast in ((traced, True, True), (untraced, False, True), (plain_e2e, False, False)):
                model.fast_decode = fast
                synchronize(device)
                t0 = time.perf_counter()
                result = model.transcribe(samples, max_new_tokens=args.new_tokens, trace=trace)
                synchronize(device)
                bucket.append(time.perf_counter() - t0)
                if trace:
                    clip["trace_step"] = result.timings["trace"]
        model.fast_decode = True
        clip["end_to_end_traced"] = statistics.median(traced)
        clip["end_to_end_untraced"] = statistics.median(untraced)
        clip["end_to_end_plain_decode"] = statistics.median(plain_e2e)
        if device.type == "cuda":
            clip["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device)

        # Floors: FLOPs counted on the real modules, divided by the measured matmul rate;
        # decode reads every decoder weight once per token.
        with torch.inference_mode():
            features = model.encoder.features(samples)
            frames = model.encode(samples)
            audio = model.project(frames)
            prompt = model.prompt_embeddings(audio)
            # The eager modules: FLOPs are the same, and the counter cannot see inside compiled code.
            clip["encoder_flops"] = count_flops(lambda: model.encoder.model(features))
            clip["projector_flops"] = count_flops(lambda: model.projector(frames))
            clip["prefill_flops"] = count_flops(lambda: model.decoder(inputs_embeds=prompt, logits_to_keep=1))
        if clip["prefill_flops"] is None:
            # Matmul FLOPs only (2 per weight per position, plus the one logits row); attention
            # over a few hundred positions adds well under 1%.
            embedding = model.decoder.get_input_embeddings().weight.numel()
            body = sum(p.numel() for p in model.decoder.parameters()) - embedding
            clip["prefill_flops"] = 2 * body * prompt.shape[1] + 2 * embedding
            clip["prefill_flops_note"] = "2·params·positions (FlopCounterMode refused this attention)"
        rate, bandwidth = report["matmul_flops"], report["bandwidth_Bps"]
        clip["floor_encoder"] = clip["encoder_flops"] / rate
        clip["floor_projector"] = clip["projector_flops"] / rate
        clip["floor_prefill"] = max(clip["prefill_flops"] / rate, weight_bytes / bandwidth)
        clip["floor_decode_per_token"] = weight_bytes / bandwidth
        clip["floor_end_to_end"] = (
            clip["floor_encoder"] + clip["floor_projector"] + clip["floor_prefill"]
            + (args.new_tokens - 1) * clip["floor_decode_per_token"]
        )
        report["clips"][f"{seconds:g}s"] = clip
        log(format_clip(seconds, clip, args.new_tokens))

    report["trace_sync"] = trace_sync_check(model, speechlike(3.0))
    log(f"trace sync check: {report['trace_sync']}")
    model = None  # free the GPU for the float32 check
    if device.type == "cuda":
        torch.cuda.empty_cache()
    report["graph_vs_plain_float32"] = graph_matches_plain(device, 48)
    log(f"graph vs plain decoding, float32: {report['graph_vs_plain_float32']}")
    return report


def format_clip(seconds: float, c: dict, new_tokens: int) -> str:
    ms = lambda s: f"{s * 1000:9.2f}"  # noqa: E731
    rows = [
        ("features (CPU)", c["features"], None, c["plain_features"]),
        ("encoder", c["encoder"], c["floor_encoder"], c["plain_encoder"]),
        ("projector", c["projector"], c["floor_projector"], c["plain_projector"]),
        ("prefill", c["prefill"], c["floor_prefill"], c["plain_prefill"]),
        ("decode per token", c["decode_per_token"], c["floor_decode_per_token"], c["plain_decode_per_token"]),
        (f"end to end ({new_tokens} tok)", c["end_to_end_untraced"], c["floor_end_to_end"], c["end_to_end_plain_decode"]),
        ("  traced", c["end_to_end_traced"], c["floor_end_to_end"], None),
    ]
    lines = [f"\n{seconds:g} s clip ({c['prompt_positions']} prompt positions; fast decode: {c['decode_path']})",
             f"{'step':<24}{'ms':>9}{'floor ms':>10}{'× floor':>9}{'plain ms':>10}"]
    for name, value, floor, plain in rows:
        ratio = f"{value / floor:9.1f}" if floor else f"{'':>9}"
        lines.append(f"{name:<24}{ms(value)}{ms(floor) if floor else ' ' * 10:>10}{ratio}"
                     f"{ms(plain) if plain is not None else '':>10}")
    lines.append(f"trace overhead: {c['end_to_end_traced'] / c['end_to_end_untraced']:.3f}× "
                 f"(trace step {c['trace_step'] * 1000:.1f} ms); RTF {c['end_to_end_untraced'] / seconds:.3f}; "
                 f"decode speed-up vs plain {c['plain_decode_per_token'] / c['decode_per_token']:.1f}×; "
                 f"fast/plain tokens agree {c['same_tokens_fast_vs_plain']}/{new_tokens}")
    if "peak_memory_bytes" in c:
        lines.append(f"peak GPU memory {c['peak_memory_bytes'] / 1e9:.2f} GB")
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, flush=True)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--small", action="store_true", help="tiny models of the same shapes (CPU, CI)")
    parser.add_argument("--clips", type=float, nargs="+", default=[3.0, 30.0])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="torch.compile the encoder, the prefill and the decode step")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return report


if __name__ == "__main__":
    main()
