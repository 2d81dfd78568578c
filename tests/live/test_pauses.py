"""Where a live window may be cut: pauses after speech, found from the audio's energy."""

import numpy as np
import pytest
from tone_words import speak

from tiny_audio.live.pauses import FRAME_S, KEEP_S, PAUSE_S, has_speech, last_pause, quietest_gap

RATE = 16_000


def tone(seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def test_the_last_pause_after_speech_is_found_and_cut_a_little_after_the_speech():
    audio = np.concatenate([silence(0.5), tone(1.0), silence(0.4), tone(1.0), silence(0.6), tone(0.5)])
    pause = last_pause(audio, RATE)
    assert pause.start == pytest.approx(2.9 * RATE, abs=FRAME_S * RATE)
    assert pause.end == pytest.approx(3.5 * RATE, abs=FRAME_S * RATE)
    assert pause.cut(RATE) - pause.start == int(KEEP_S * RATE)
    # Leading silence is no pause: nothing was said before it.
    assert last_pause(np.concatenate([silence(1.0), tone(1.0)]), RATE) is None


def test_a_pause_at_the_end_counts_once_it_is_long_enough():
    speech = tone(1.0)
    assert last_pause(np.concatenate([speech, silence(PAUSE_S - 0.05)]), RATE) is None
    pause = last_pause(np.concatenate([speech, silence(PAUSE_S + 0.02)]), RATE)
    assert pause is not None and pause.start == speech.size
    assert pause.cut(RATE) == speech.size + int(min(PAUSE_S + 0.02, 2 * KEEP_S) / 2 * RATE)


def test_gaps_between_words_are_no_pause():
    words = speak([["amber", "birch", "cedar", "delta", "ember"]], lead_s=0.0)
    assert last_pause(words, RATE) is None


def test_a_pause_is_found_over_steady_background_noise():
    rng = np.random.default_rng(0)
    audio = np.concatenate([tone(1.0), silence(0.5), tone(1.0)])
    noisy = audio + 0.01 * rng.standard_normal(audio.size).astype(np.float32)  # -40 dBFS hiss
    pause = last_pause(noisy, RATE)
    assert pause is not None and pause.start == pytest.approx(1.0 * RATE, abs=2 * FRAME_S * RATE)


def test_speech_that_never_pauses_is_cut_in_its_longest_gap():
    gap_at = 3.0
    audio = np.concatenate([tone(gap_at), silence(0.1), tone(3.0)])
    audio[int(1.0 * RATE) : int(1.04 * RATE)] = 0  # a shorter gap elsewhere
    cut = quietest_gap(audio, RATE, earliest=0.5, latest=5.0)
    assert gap_at * RATE <= cut <= (gap_at + 0.1) * RATE
    continuous = tone(6.0) * np.linspace(1.0, 0.5, int(6.0 * RATE), dtype=np.float32)
    assert 0.5 * RATE <= quietest_gap(continuous, RATE, earliest=0.5, latest=5.0) <= 5.0 * RATE


def test_has_speech_ignores_digital_silence_and_finds_sound():
    assert not has_speech(silence(2.0), RATE)
    assert not has_speech(np.concatenate([silence(1.0), tone(0.04)]), RATE)  # a click
    assert has_speech(np.concatenate([silence(1.0), tone(0.3)]), RATE)
