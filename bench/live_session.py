"""A long live session: minutes of speech through the live path, against the same sentences
transcribed offline one by one. Run by ``python bench/live_latency.py --session``.

The speech: ``SENTENCES`` (56 plain sentences, ~3.2 min) spoken by espeak-ng (a training voice of
the nano model), each synthesised alone and joined with pauses of 0.15-0.8 s (``PAUSES_S``: some
shorter than a commit pause, so pieces of several sentences occur too). The same clips are
transcribed offline one at a time with the model's default decoding, with greedy decoding (the
live text's), and with the default decoding in the live runs' precision (what a commit runs), so
the word error rates compare the same audio.

The live run is ``python -m tiny_audio.live --input-file``'s path in this process: a
``FileSource`` plays the audio at real-time pace in 0.1 s blocks into ``cli.run``, which feeds a
``LiveSession`` (model in its worker thread) and ends with its final run. Figures: word error
rate, phrases of 4+ words said again more often than in the text, latency percentiles over the whole
session (per update, and per speech block from its arrival to the first update that includes it),
the first words after the first speech, the time from the end of the audio to the final
transcript, and the share of the audio that reached the session.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from collections import Counter

import numpy as np

SENTENCES = (
    "The morning was cold and bright when the old man left his house.",
    "He walked down the hill to the village with a basket on his arm.",
    "The baker was already standing at the door of her shop.",
    "She gave him two loaves of bread and a small cake for his grandson.",
    "On the way back he stopped to rest under a tall oak tree.",
    "A red fox watched him from the edge of the field.",
    "The wind moved slowly through the long grass.",
    "He thought about the summer when he was a young boy.",
    "His father had taught him how to fish in the river.",
    "They used to sit on the bank for hours without saying a word.",
    "Sometimes they caught nothing at all and came home happy anyway.",
    "Now the river was wider and the bridge was made of stone.",
    "A group of children ran past him, laughing and shouting.",
    "One of them dropped a blue glove on the path.",
    "The old man picked it up and called after the girl.",
    "She came back, thanked him, and ran to join her friends.",
    "At noon the church bell rang twelve times.",
    "He reached his garden and opened the wooden gate.",
    "The roses needed water and the apple tree needed a ladder.",
    "His grandson was sitting on the steps reading a book about ships.",
    "They ate the bread with butter and drank warm milk.",
    "After lunch they went to the shed to repair an old bicycle.",
    "The chain was rusty and the front wheel was bent.",
    "It took them the whole afternoon to make it work again.",
    "When the sun was low, the boy rode the bicycle along the road.",
    "The old man watched him until he turned the corner.",
    "Clouds gathered in the west and the air became heavy.",
    "A few drops of rain fell on the dry ground.",
    "Soon the storm arrived with thunder and bright flashes of light.",
    "The boy came home wet but smiling.",
    "They lit a fire in the kitchen and dried his clothes.",
    "The grandmother told them a story about a ship lost at sea.",
    "The sailors had found an island with tall trees and fresh water.",
    "They built a hut and waited many months for help.",
    "One day a fishing boat saw the smoke of their fire.",
    "Everyone returned home safely before the winter.",
    "The boy asked if the story was true.",
    "His grandmother only smiled and poured more tea.",
    "Outside the rain stopped and the stars came out.",
    "The old man opened the window to let in the cool air.",
    "He could hear the river and the frogs singing in the dark.",
    "Tomorrow they would go to the market in the next town.",
    "The boy wanted to buy a map and a small compass.",
    "He dreamed of sailing across the ocean one day.",
    "The house grew quiet and the fire slowly went out.",
    "In the morning the garden was fresh and green.",
    "A thrush was singing on the branch of the apple tree.",
    "The old man made coffee and woke the boy with a gentle knock.",
    "They packed sandwiches, two apples, and a bottle of water.",
    "Then they walked together down the road toward the station.",
    "The train was late because of a fallen tree on the line.",
    "They waited on a bench and counted the birds on the wire.",
    "When the train came, the boy found a seat by the window.",
    "Fields and farms and little rivers passed by in the sun.",
    "In the next town the market was full of noise and color.",
    "They bought the map, the compass, and a bag of warm chestnuts.",
)
PAUSES_S = (0.4, 0.6, 0.3, 0.15, 0.8, 0.5, 0.25, 0.45, 0.15, 0.7)
VOICE = "en-us"
PHRASE_WORDS = 4


def session_audio(voice: str = VOICE) -> tuple[np.ndarray, list[np.ndarray], list[float]]:
    """(the whole session at 16 kHz, each sentence's clip, each sentence's start in seconds)."""
    from tiny_audio.pipeline.audio import SAMPLE_RATE, resample
    from tiny_audio.training.tts import synthesize

    clips, parts, starts, at = [], [], [], 0
    for n, sentence in enumerate(SENTENCES):
        samples, rate = synthesize("espeak-ng", voice, sentence, {"speed_wpm": 175, "pitch": 50})
        clip = resample(samples, rate, SAMPLE_RATE)
        pause = np.zeros(int(PAUSES_S[n % len(PAUSES_S)] * SAMPLE_RATE), dtype=np.float32)
        clips.append(clip)
        starts.append(at / SAMPLE_RATE)
        parts += [clip, pause]
        at += clip.size + pause.size
    return np.concatenate(parts), clips, starts


def word_error_rate(reference: str, hypothesis: str) -> float:
    from tiny_audio.training.evaluate import normaliser, word_edits

    normalise = normaliser()
    edits, words = word_edits(normalise(reference), normalise(hypothesis))
    return edits / words


def repeated_phrases(reference: str, hypothesis: str, n: int = PHRASE_WORDS) -> list[tuple[str, int, int]]:
    """Phrases of ``n`` words the hypothesis says more than once and more often than the reference
    does: (phrase, times said, times in the text). A misheard phrase said once is a word error,
    not a repetition. (No repeated phrase of ``n`` words means none of more words either.)"""
    from tiny_audio.training.evaluate import normaliser

    normalise = normaliser()

    def phrases(text: str) -> Counter:
        words = normalise(text).split()
        return Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))

    said, written = phrases(hypothesis), phrases(reference)
    return sorted((p, c, written[p]) for p, c in said.items() if c > 1 and c > written[p])


def pieces_saying(phrase: str, segments: list[tuple[float, float, str]]) -> list[tuple[float, float]]:
    """The committed pieces where each time ``phrase`` is said begins: the same piece twice or two
    adjacent ones is the window overlap a live session must never show; pieces far apart, a
    misheard word that makes a phrase said elsewhere."""
    from tiny_audio.training.evaluate import normaliser

    normalise = normaliser()
    words = [(word, (s, e)) for s, e, text in segments for word in normalise(text).split()]
    wanted = phrase.split()
    n = len(wanted)
    return [words[i][1] for i in range(len(words) - n + 1) if [w for w, _ in words[i : i + n]] == wanted]


def offline(model, clips: list[np.ndarray], beams) -> tuple[list[str], float]:
    started = time.perf_counter()
    texts = [model.transcribe(clip, beams=beams, trace=False).text for clip in clips]
    return texts, time.perf_counter() - started


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(values), "p50": statistics.median(values), "p90": pick(0.9), "p99": pick(0.99), "max": ordered[-1]}


def live(model, audio: np.ndarray, speed: float = 1.0) -> dict:
    """The command line's live path on ``audio`` at real-time pace (or ``speed`` ×)."""
    from tiny_audio.live import cli
    from tiny_audio.live.display import GREEDY_PIECES
    from tiny_audio.live.streaming import LiveSession
    from tiny_audio.pipeline.audio import SAMPLE_RATE, SILENCE_PEAK

    session = LiveSession(model)
    blocks: queue.Queue = queue.Queue()
    seen: list[tuple[float, object]] = []
    done = threading.Event()

    def watch() -> None:  # stamps each update as it lands (a 2 ms poll)
        last = None
        while not done.is_set():
            update = session.latest()
            if update is not last and update is not None:
                seen.append((time.perf_counter(), update))
                last = update
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    source = cli.FileSource(audio, blocks, speed)
    started = time.perf_counter()
    watcher.start()
    source.start()
    final = cli.run(session, blocks, source, on_update=lambda update: None)
    finished = time.perf_counter()
    done.set()
    watcher.join()

    block = int(cli.BLOCK_SECONDS * SAMPLE_RATE)
    count = -(-audio.size // block)
    due = [started + (n + 1) * cli.BLOCK_SECONDS / speed for n in range(count)]  # when each block arrived
    loud = [float(np.abs(audio[n * block : (n + 1) * block]).max()) >= SILENCE_PEAK for n in range(count)]
    live_updates = [(t, u) for t, u in seen if not u.final]
    waits, covered = [], 0
    for noticed, update in live_updates:
        included = min(count, int(round(update.audio_end_s * SAMPLE_RATE / block)))
        waits += [noticed - due[n] for n in range(covered, included) if loud[n]]
        covered = max(covered, included)
    first_sound = next(n for n in range(count) if loud[n])
    first_words = next((t for t, u in live_updates if u.text.strip()), None)
    return {
        "text": final.text if final else "",
        "segments": [(s.start_s, s.end_s, s.text) for s in session.segments],
        "update_latency_s": percentiles([u.latency_s for _, u in live_updates]),
        "block_latency_s": percentiles(waits),
        "first_words_after_speech_s": first_words - due[first_sound] if first_words else None,
        "final_after_end_s": finished - due[-1],
        "final_run_s": final.latency_s if final else None,
        "delivered": session.heard_seconds / (audio.size / SAMPLE_RATE),
        "updates": len(live_updates),
        "model_runs": session.model_runs,
        "longest_window_s": max((u.buffer_seconds for _, u in live_updates), default=0.0),
        "commits": (GREEDY_PIECES if session.greedy_commits else "the model's own decoding")
        + f", {session.runner.updates_precision}",
    }


def run_session(model, speed: float = 1.0, voice: str = VOICE) -> dict:
    """Offline one by one, then live; prints the figures and returns them."""
    from live_latency import CpuShare, print_share

    from tiny_audio.live.runner import model_for_updates
    from tiny_audio.pipeline.decoding import decoding_text

    audio, clips, starts = session_audio(voice)
    reference = " ".join(SENTENCES)
    seconds = audio.size / 16_000
    print(f"\nlong session: {len(SENTENCES)} sentences, {seconds:.1f} s of espeak-ng {voice} speech with pauses")
    figures: dict = {"seconds": seconds, "sentences": len(SENTENCES), "voice": voice, "speed": speed}
    share = CpuShare()
    fast = model_for_updates(model)
    # The model as loaded with its default decoding (what the Transcribe tab gives), greedy, and the
    # default decoding in the live runs' precision (what a commit runs), when that is another one.
    runs = [("default", model, None), ("greedy", model, 1)] + ([("live precision", fast, None)] if fast is not model else [])
    for name, runner, beams in runs:
        texts, took = offline(runner, clips, beams)
        decoding = decoding_text(beams or model.beams)
        wer = word_error_rate(reference, " ".join(texts))
        figures[f"offline {name}"] = {"wer": wer, "seconds": took, "decoding": decoding, "dtype": str(runner.dtype)}
        print(f"offline, one sentence at a time, {decoding} ({str(runner.dtype).removeprefix('torch.')}): "
              f"WER {wer:.1%} ({took:.0f} s)")
    print_share(share.others())

    share = CpuShare()
    run = live(model, audio, speed)
    run["others_cpu_share"] = share.others()
    figures["live"] = run
    wer = word_error_rate(reference, run["text"])
    run["wer"] = wer
    run["repeated_phrases"] = [(p, c, t, pieces_saying(p, run["segments"]))
                               for p, c, t in repeated_phrases(reference, run["text"])]
    offline_wer = figures["offline default"]["wer"]
    print(f"live, {speed:g}× real time: WER {wer:.1%} = {wer / offline_wer:.2f}× offline ({offline_wer:.1%}, "
          f"{figures['offline default']['decoding']}); {wer / figures['offline greedy']['wer']:.2f}× offline greedy")
    print(f"phrases of {PHRASE_WORDS}+ words said again, more often than in the text: {len(run['repeated_phrases'])}"
          + "".join(f"\n  '{p}' {c}× (text: {t}×), in the pieces at " + ", ".join(f"{s:.1f}-{e:.1f} s" for s, e in at)
                    for p, c, t, at in run["repeated_phrases"][:10]))
    print(f"commits: {run['commits']}")
    for name in ("update_latency_s", "block_latency_s"):
        p = run[name]
        if p:
            print(f"{name.replace('_s', '').replace('_', ' ')} (s): p50 {p['p50']:.2f} · p90 {p['p90']:.2f} · "
                  f"p99 {p['p99']:.2f} · max {p['max']:.2f}  ({p['n']})")
    if run["first_words_after_speech_s"] is not None:
        print(f"first words {run['first_words_after_speech_s']:.2f} s after the first speech arrived")
    print(f"final transcript {run['final_after_end_s']:.2f} s after the end of the audio "
          f"(finish: {run['final_run_s'] or 0:.2f} s, the run in progress included); audio delivered {run['delivered']:.1%}; "
          f"{run['updates']} updates, {len(run['segments'])} pieces committed, longest window {run['longest_window_s']:.1f} s")
    print_share(run["others_cpu_share"])
    return figures
