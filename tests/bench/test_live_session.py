"""bench/live_session.py's measures: a repeated phrase is found, a misheard one is not."""

import importlib.util
import sys

import pytest

from tiny_audio.paths import ROOT


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("live_session", ROOT / "bench" / "live_session.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_repeated_phrases_are_repetitions_not_word_errors(bench):
    text = "the road turned to the east and the river ran fast below the bridge"
    assert bench.repeated_phrases(text, text) == []
    misheard = text.replace("river ran fast", "liver ran past")
    assert bench.repeated_phrases(text, misheard) == []
    looped = text + " and the river ran fast below the bridge and the river ran fast"
    assert ("and the river ran", 3, 1) in bench.repeated_phrases(text, looped)
    assert bench.word_error_rate(text, misheard) == pytest.approx(2 / 14)


def test_a_repeated_phrase_is_traced_to_the_pieces_that_say_it(bench):
    segments = [(0.0, 3.0, "They packed two apples and a bag of water."), (3.0, 5.0, "Then they left."),
                (5.0, 8.0, "And a bag of"), (8.0, 9.0, "warm chestnuts.")]
    assert bench.pieces_saying("and a bag of", segments) == [(0.0, 3.0), (5.0, 8.0)]
    assert bench.pieces_saying("bag of warm chestnuts", segments) == [(5.0, 8.0)]  # across a boundary
    assert bench.pieces_saying("a bottle of water", segments) == []


def test_percentiles_of_a_session(bench):
    figures = bench.percentiles([0.1 * i for i in range(1, 101)])
    assert figures["n"] == 100 and figures["max"] == pytest.approx(10.0)
    assert figures["p50"] == pytest.approx(5.05) and figures["p90"] == pytest.approx(9.1)
    assert bench.percentiles([]) == {}


def test_the_session_is_minutes_of_many_sentences(bench):
    assert len(bench.SENTENCES) >= 50 and len(set(bench.SENTENCES)) == len(bench.SENTENCES)
    words = sum(len(s.split()) for s in bench.SENTENCES)
    assert words / (175 / 60) >= 180  # at espeak-ng's 175 words a minute: over 3 minutes of speech
