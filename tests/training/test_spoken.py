"""Sentences in spoken form: numbers, money, times, abbreviations and symbols written out, and the
sentences that cannot be said one way only dropped."""

import pytest

from tiny_audio.training.spoken import cardinal, ordinal, spoken_form, year


def test_number_words():
    assert [cardinal(n) for n in (0, 13, 21, 105, 1234, 2_000_005)] == [
        "zero", "thirteen", "twenty-one", "one hundred five",
        "one thousand two hundred thirty-four", "two million five",
    ]  # fmt: skip
    assert [ordinal(n) for n in (1, 2, 3, 12, 21, 40, 100)] == [
        "first", "second", "third", "twelfth", "twenty-first", "fortieth", "one hundredth",
    ]  # fmt: skip
    assert [year(n) for n in (1984, 1900, 1905, 2005, 2024, 3000)] == [
        "nineteen eighty-four", "nineteen hundred", "nineteen oh five", "two thousand five",
        "twenty twenty-four", "three thousand",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("It cost $5.50 & change.", "It cost five dollars and fifty cents and change."),
        ("They spent $2 million on it.", "They spent two million dollars on it."),
        ("Only 90% of it works.", "Only ninety percent of it works."),
        ("We met at 10:30 on the 21st.", "We met at ten thirty on the twenty-first."),
        (
            "It was signed on December 22, 1987 in Paris.",
            "It was signed on December twenty-second, nineteen eighty-seven in Paris.",
        ),
        ("Music of the 1960s was loud.", "Music of the nineteen sixties was loud."),
        ("Pi is about 3.14 they say.", "Pi is about three point one four they say."),
        ("The war lasted 1914-1918 in Europe.", "The war lasted nineteen fourteen to nineteen eighteen in Europe."),
        ("Rule #4 says 2 + 2 = 4.", "Rule number four says two plus two equals four."),
        ("Mr. Smith met Dr. Jones, i.e. his doctor.", "Mister Smith met Doctor Jones, that is his doctor."),
        ('"Well," she said -- and left (quickly).', "Well, she said, and left quickly."),
        ("Write to me @ home!!", "Write to me at home!"),
        ("It weighs 1,500 tons.", "It weighs one thousand five hundred tons."),
    ],
)
def test_spoken_form_writes_numbers_and_symbols_out(written, spoken):
    assert spoken_form(written) == spoken


@pytest.mark.parametrize(
    "sentence",
    [
        "Buy an MP3 player today.",  # digits inside a word
        "The IBM machine is broken.",  # capitals: spelled out or read as a word?
        "Use a/b for the ratio here.",  # a symbol nobody reads the same way
        "Come at 2 a.m. or never.",  # a lone inner period (abbreviation)
        "Too short.",
        " ".join(["Word"] * 26) + ".",  # over 25 words
        "no capital at the start.",
        "No end punctuation here",
        "Caf\u00e9 au lait is nice.",  # not ASCII
    ],
)
def test_unspeakable_sentences_are_dropped(sentence):
    assert spoken_form(sentence) is None
