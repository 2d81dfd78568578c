"""Nano model on this machine's CPU: trace overhead, the Whisper baseline, and load times.

    python bench/nano_cpu.py [--runs 5] [--skip-cold]

Prints ratios measured side by side in one run (runs interleaved, medians), so a noisy machine
moves both sides of each ratio alike:
- traced vs untraced end to end on a 3 s clip, greedy decoding (target ≤ 1.05×);
- beam search with the app's default beams vs greedy, untraced;
- beam search reading the prompt once for all beams (``decoding.beam_search``) vs ``generate``
  alone, which reads it once per beam: the decoder alone, on the same prompt embeddings;
- the nano pipeline vs Whisper tiny.en decoding the same clip with its own decoder, both greedy;
- cold load: first load into an empty cache (download + conversion) and the cached load, each
  in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCE = "please send the weekly report to the team"


def speak(path: Path, seconds: float = 3.0) -> None:
    """A ~3 s sentence from espeak-ng, padded or trimmed to exactly ``seconds``."""
    import numpy as np
    import soundfile as sf

    subprocess.run(["espeak-ng", "-w", str(path), SENTENCE], check=True)
    samples, rate = sf.read(path, dtype="float32")
    target = int(seconds * rate)
    samples = np.pad(samples, (0, max(0, target - samples.size)))[:target]
    sf.write(path, samples, rate)


def time_load_in_fresh_process(cache: Path) -> dict:
    code = (
        "import time; t0 = time.perf_counter(); import tiny_audio; t1 = time.perf_counter(); "
        "tiny_audio.load_model(); t2 = time.perf_counter(); "
        "print(f'{t1 - t0} {t2 - t1}')"
    )
    env = dict(os.environ, TINY_AUDIO_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    import_s, load_s = (float(v) for v in out.stdout.split()[-2:])
    return {"import_s": import_s, "load_s": load_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-cold", action="store_true", help="skip the first-load (conversion) measurement")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch

    from tiny_audio import load_audio, load_model
    from tiny_audio.loading.weights.whisper import load_nano_whisper, transcribe_with_whisper_decoder

    work = Path(tempfile.mkdtemp(prefix="nano-bench-"))
    clip = work / "clip.wav"
    speak(clip)
    samples = load_audio(clip)

    model = load_model()
    whisper = load_nano_whisper()
    # Fix the decode length so traced and untraced runs do the same work whatever the text.
    new_tokens = 24
    beams = model.beams
    model.transcribe(samples, max_new_tokens=new_tokens, beams=1)  # warm-up
    model.transcribe(samples, max_new_tokens=new_tokens, beams=beams, trace=False)
    transcribe_with_whisper_decoder(whisper, samples)

    from tiny_audio.pipeline import decoding

    with torch.inference_mode():
        embeds = model.prompt_embeddings(model.project(model.encode(samples)))

    def search(prefill_once: bool) -> list[int]:
        with torch.inference_mode():
            return decoding.beam_search(model.decoder, embeds, new_tokens, beams, model.stop_ids,
                                        model.tokenizer.pad_token_id or 0, prefill_once=prefill_once)

    traced, plain, beam, baseline, once, each = [], [], [], [], [], []
    for _ in range(args.runs):
        for bucket, run in (
            (traced, lambda: model.transcribe(samples, max_new_tokens=new_tokens, beams=1)),
            (plain, lambda: model.transcribe(samples, max_new_tokens=new_tokens, trace=False, beams=1)),
            (beam, lambda: model.transcribe(samples, max_new_tokens=new_tokens, trace=False, beams=beams)),
            (baseline, lambda: transcribe_with_whisper_decoder(whisper, samples)),
            (once, lambda: search(True)),
            (each, lambda: search(False)),
        ):
            start = time.perf_counter()
            run()
            bucket.append(time.perf_counter() - start)
    result = model.transcribe(samples, max_new_tokens=new_tokens, beams=1)
    figures = {
        "threads": torch.get_num_threads(),
        "clip_s": result.duration_s,
        "new_tokens": len(result.token_ids),
        "traced_s": statistics.median(traced),
        "untraced_s": statistics.median(plain),
        "beams": beams,
        "beam_search_s": statistics.median(beam),
        "whisper_own_decoder_s": statistics.median(baseline),
        "whisper_text": transcribe_with_whisper_decoder(whisper, samples),
        "trace_step_s": result.timings["trace"],
        "beam_prefill_once_s": statistics.median(once),
        "beam_prefill_each_s": statistics.median(each),
        "beam_same_tokens": search(True) == search(False),
    }
    figures["traced_over_untraced"] = figures["traced_s"] / figures["untraced_s"]
    figures["nano_over_whisper"] = figures["untraced_s"] / figures["whisper_own_decoder_s"]
    figures["beam_over_greedy"] = figures["beam_search_s"] / figures["untraced_s"]
    figures["prefill_once_over_each"] = figures["beam_prefill_once_s"] / figures["beam_prefill_each_s"]

    if not args.skip_cold:
        cold_cache = work / "cache"
        figures["first_load"] = time_load_in_fresh_process(cold_cache)  # downloads + converts
        figures["cached_load"] = time_load_in_fresh_process(cold_cache)

    print(f"nano on CPU ({figures['threads']} threads), {figures['clip_s']:.1f} s clip, "
          f"{figures['new_tokens']} new tokens (greedy unless said), median of {args.runs}")
    print(f"  traced end to end      {figures['traced_s'] * 1000:8.0f} ms  (trace step {figures['trace_step_s'] * 1000:.0f} ms)")
    print(f"  untraced end to end    {figures['untraced_s'] * 1000:8.0f} ms")
    print(f"  traced / untraced      {figures['traced_over_untraced']:8.3f}×  (target ≤ 1.05×)")
    print(f"  beam search, {beams} beams {figures['beam_search_s'] * 1000:8.0f} ms  untraced, "
          f"{figures['beam_over_greedy']:.2f}× greedy (the app's default for nano)")
    print(f"  beam search decoding, the prompt read once {figures['beam_prefill_once_s'] * 1000:.0f} ms, "
          f"once per beam (generate alone) {figures['beam_prefill_each_s'] * 1000:.0f} ms: "
          f"{figures['prefill_once_over_each']:.2f}× (same tokens: {figures['beam_same_tokens']})")
    print(f"  Whisper tiny.en alone  {figures['whisper_own_decoder_s'] * 1000:8.0f} ms  ({figures['whisper_text']!r})")
    print(f"  nano / Whisper         {figures['nano_over_whisper']:8.2f}×")
    if not args.skip_cold:
        first, cached = figures["first_load"], figures["cached_load"]
        print(f"  first load (download + convert) {first['load_s']:6.1f} s  (+ import {first['import_s']:.1f} s)")
        print(f"  cached load                     {cached['load_s']:6.1f} s  (+ import {cached['import_s']:.1f} s)")
        print(f"  first / cached                  {first['load_s'] / cached['load_s']:6.1f}×")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
