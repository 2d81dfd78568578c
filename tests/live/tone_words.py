"""A stand-in for the model whose words can be read back exactly from the audio: each word is a
tone burst at its own pitch. ``ToneReader`` has the live runner's interface (``update`` /
``complete``) and behaves as a decoder does where it matters for streaming: it keeps whatever
start it is forced to, says a word it hears only the first half of, ends a sentence with a full
stop where the speech pauses (or where the audio ends in silence), and decodes at most
``max_new_tokens`` tokens. With it a test can tell exactly which words a session repeated or lost."""

from __future__ import annotations

import numpy as np

from tiny_audio.pipeline.result import TranscriptionResult

VOCABULARY = (
    "amber birch cedar delta ember fjord grove harbor island jasper kestrel lantern meadow "
    "nectar orchid pebble quartz river saffron timber umber willow yarrow zephyr"
).split()
BASE_HZ, STEP_HZ = 400.0, 60.0
WORD_S = 0.24
FRAME_S = 0.02


def speak(sentences: list[list[str]], rate: int = 16_000, gap_s: float = 0.06, pause_s: float = 0.5,
          lead_s: float = 0.3) -> np.ndarray:
    """The words as tone bursts, ``gap_s`` apart, with ``pause_s`` between sentences."""
    t = np.arange(int(WORD_S * rate)) / rate
    envelope = np.minimum(1.0, np.minimum(t, WORD_S - t) / 0.01)  # 10 ms ramps: no clicks
    pieces = [np.zeros(int(lead_s * rate))]
    for n, sentence in enumerate(sentences):
        if n:
            pieces.append(np.zeros(int(pause_s * rate)))
        for m, word in enumerate(sentence):
            if m:
                pieces.append(np.zeros(int(gap_s * rate)))
            pitch = BASE_HZ + STEP_HZ * VOCABULARY.index(word)
            pieces.append(0.3 * envelope * np.sin(2 * np.pi * pitch * t))
    pieces.append(np.zeros(int(lead_s * rate)))
    return np.concatenate(pieces).astype(np.float32)


STOP = len(VOCABULARY)  # the full stop's token
SENTENCE_GAP_S = 0.3  # a gap this long after a word ends its sentence
END_GAP_S = 0.12  # ... and so does this much silence at the end of the audio


def read(samples: np.ndarray, rate: int) -> list[int]:
    """The tokens of the words whose bursts are in the audio (one cut off at the end counts if half
    of it is there), with a full stop after each sentence."""
    size = int(FRAME_S * rate)
    frames = samples[: samples.size // size * size].reshape(-1, size)
    loud = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) > 0.02
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    bursts = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if (b - a) * FRAME_S >= WORD_S / 2]
    tokens = []
    for n, (first, last) in enumerate(bursts):
        burst = samples[first * size : last * size]
        spectrum = np.abs(np.fft.rfft(burst * np.hanning(burst.size)))
        pitch = np.fft.rfftfreq(burst.size, 1 / rate)[int(np.argmax(spectrum))]
        tokens.append(int(np.clip(round((pitch - BASE_HZ) / STEP_HZ), 0, len(VOCABULARY) - 1)))
        following = (bursts[n + 1][0] if n + 1 < len(bursts) else frames.shape[0]) - last
        if following * FRAME_S >= (SENTENCE_GAP_S if n + 1 < len(bursts) else END_GAP_S):
            tokens.append(STOP)
    return tokens


def text_of(tokens: list[int]) -> str:
    """Words joined by spaces, each full stop against the word before it."""
    text = ""
    for token in tokens:
        text += "." if token == STOP else (" " if text else "") + VOCABULARY[token]
    return text


def words_of(text: str) -> list[str]:
    return text.replace(".", " ").split()


class ToneReader:
    """``update`` and ``complete`` as a live runner has them."""

    max_seconds = 30.0
    ready = True
    updates_precision = "float32"
    full_stops = True

    def __init__(self):
        self.calls: list[tuple[str, float, int]] = []  # (kind, seconds of audio, forced tokens)

    def update(self, samples, rate, continue_from, max_new_tokens, should_stop=None):
        return self._run("update", samples, rate, continue_from, max_new_tokens)

    def complete(self, samples, rate, continue_from, max_new_tokens, should_stop=None):
        return self._run("complete", samples, rate, continue_from, max_new_tokens)

    def close(self):
        pass

    def _run(self, kind, samples, rate, forced, max_new_tokens) -> TranscriptionResult:
        self.calls.append((kind, samples.size / rate, len(forced)))
        heard = [t for t in read(samples, rate) if self.full_stops or t != STOP]
        tokens = list(forced) + heard[len(forced) :][:max_new_tokens]
        return result_of(tokens, samples.size / rate)


def result_of(tokens: list[int], seconds: float) -> TranscriptionResult:
    text = text_of(tokens)
    return TranscriptionResult(text=text, raw_text=text, token_ids=tokens, trace=None, timings={},
                               duration_s=seconds, model_name="tones", device="cpu", dtype="float32",
                               projector_trained=True)
