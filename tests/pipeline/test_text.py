"""Transcript clean-up: the nano model's, and Tiny Audio's own for its checkpoints."""

import pytest

from tiny_audio.pipeline.text import clean_checkpoint_transcript, clean_transcript

PHRASE = "one two three four five six seven eight nine nine"  # 10 words, more than the nano rule's 8


@pytest.mark.parametrize("raw, cleaned", [
    ("<think>\nhmm\n</think>\n\nhello there", "hello there"),
    ("hello there!!!", "hello there!"),  # a character repeated at the very end
    ("call me at 5555", "call me at 5"),
    ("and the cat sat sat sat", "and the cat sat"),  # a word, three or more times
    ("so i am sorry i am sorry I AM SORRY", "so i am sorry"),  # a phrase, letter case ignored
    (f"start {PHRASE} {PHRASE} {PHRASE}", f"start {PHRASE}"),  # up to 20 words
    ("the cat the cat", "the cat the cat"),  # twice is not a loop
    ("<think> unfinished thought", "<think> unfinished thought"),  # only closed blocks go
    ("   ", ""),
])
def test_checkpoint_clean_up_collapses_what_tiny_audio_collapses(raw, cleaned):
    assert clean_checkpoint_transcript(raw) == cleaned


def test_a_long_phrase_of_distinct_words_is_left_as_tiny_audio_leaves_it():
    # Tiny Audio looks for a repeated phrase only when its last six words repeat a word.
    phrase = "alpha beta gamma delta epsilon zeta eta"
    text = f"{phrase} {phrase} {phrase}"
    assert clean_checkpoint_transcript(text) == text


def test_the_nano_clean_up_is_the_one_its_error_rates_were_measured_with():
    assert clean_transcript("hello there!!!") == "hello there!!!"
    assert clean_transcript("the cat the cat the cat") == "the cat"
    assert clean_transcript(f"{PHRASE} {PHRASE} {PHRASE}") == f"{PHRASE} {PHRASE} {PHRASE}"
    assert clean_transcript("<think> unfinished thought") == ""
