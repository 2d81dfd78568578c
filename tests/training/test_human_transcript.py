"""Game subtitles made transcripts: sentence case for lines in capitals with names kept, shouted
words lowered, numbers written out, and the lines that are not words dropped, each for its
reason."""

import pytest

from tiny_audio.training.human.transcript import DRASCULA_NAMES, DROP_REASONS, names_in_texts, recase, transcript


@pytest.mark.parametrize(
    "line, expected",
    [
        ("HI WINDOW, ARE YOU DOING ANYTHING TONIGHT?", "Hi window, are you doing anything tonight?"),
        ("I'M JOHN HACKER AND I REPRESENT A BRITISH PROPERTY COMPANY",
         "I'm John Hacker and I represent a British property company."),
        ("IT IS A PICTURE OF PLATO WRITING HIS LOST DIALOGUE", "It is a picture of Plato writing his lost dialogue."),
        ("YOU LOOK BLIND. BECAUSE YOU'RE WEARING DARK GLASSES LIKE STEVIE WONDER",
         "You look blind. Because you're wearing dark glasses like Stevie Wonder."),
        ("I WONDER WHAT WE COULD USE IT FOR...", "I wonder what we could use it for..."),
        ("IS...THAT RIGHT?", "Is... that right?"),
        ("YOU...PIANIST...!!!!", "You... pianist...!"),
        ("WHAT ARE YOU DOING HERE B.J.?. WHERE IS DRASCULA?", "What are you doing here B.J.? Where is Drascula?"),
        ("OK, LET'S SEE. IGOR, BRING ME THE CD", "Okay, let's see. Igor, bring me the CD."),
        ("THE MOON TURNS AROUND THE EARTH IN 28 DAYS", "The moon turns around the earth in twenty-eight days."),
        ('"SAFE AWAY LOCKS"', "Safe away locks."),
        ("...HE IS PALE, HE HAS FANGS AND WEARS A TOUPEÉ", "He is pale, he has fangs and wears a toupee."),
    ],
)
def test_lines_in_capitals_become_sentence_case(line, expected):
    assert transcript(line, DRASCULA_NAMES) == (expected, None)


@pytest.mark.parametrize(
    "line, expected",
    [
        ("At least MY plane doesn't have training wheels.", "At least my plane doesn't have training wheels."),
        ("WE DON'T HAVE A TELEPHONE!!", "We don't have a telephone!"),
        ("I didn't say I was joking. I said I was JOE KING!", "I didn't say I was joking. I said I was Joe King!"),
        ("and my friend here is Skip.", "And my friend here is Skip."),
        ("tree roots,", "Tree roots."),
        ("May I see your ID please?", "May I see your ID please?"),
        ("He discovered the island in 1844.", "He discovered the island in eighteen forty-four."),
        ("Hello again Mr Chatterbox.", "Hello again Mister Chatterbox."),
        ("You know, KrAZy KeVIn's AiR KrAfT iNSuRAnCe.", "You know, krazy Kevin's air kraft insurance."),
    ],
)
def test_mixed_case_lines_lose_their_shouting_and_keep_names(line, expected):
    names = names_in_texts(["Ask Joe about it.", "Hi, I'm Joe King,", "The guy called Kevin", "and Skip!"])
    assert transcript(line, names) == (expected, None)


@pytest.mark.parametrize(
    "line, reason",
    [
        ("I HOPE SOMEONE F...(WHISTLE) YOU", "stage direction"),
        ("<gulp>", "stage direction"),
        ("OMELETTE, 1.00. FRIED FISH, 0.80", "ambiguous number"),
        ("Friday's film will be at 19:00 Hours", "ambiguous number"),
        ("2B or not 2B", "digits"),
        ("Grrrrr!", "no vowel"),
        ("Hmmm... That's a tough one.", "no vowel"),
        ("PSSST, PUSSYCAT... LITTLE CAT", "no vowel"),
        ("NO WAYYYYY!", "stretched"),
        ("OOOOKAY. SORRY.", "stretched"),
        ("IF I WERE A RICH MAN, DUBIDUBIDUBIDUBIDU", "stretched"),
        ("SQWAWK!", "non-word"),
        ("Ooh, uck uck UNGH!", "non-word"),
        ("HA, HA, HA. NOT EVEN IN YOUR WILDEST DREAMS!", "non-word"),
        ("BLA, BLA, BLA.", "non-word"),
        ("O", "non-word"),
        ("...?!", "empty"),
    ],
)
def test_lines_that_are_not_words_are_dropped_for_their_reason(line, reason):
    assert reason in DROP_REASONS
    assert transcript(line, DRASCULA_NAMES) == (None, reason)


def test_names_are_the_words_a_game_only_writes_capitalised_inside_sentences():
    texts = ["Joe, meet Floda.", "Welcome to Floda's hotel!", "Take it, Joe.", "Joe can't swim.",
             "We sell Bread here.", "Fresh bread!"]  # fmt: skip
    # "Joe" only ever opens a sentence once and is capitalised inside; "bread" is also lower case.
    assert names_in_texts(texts) == {"Joe", "Floda"}


def test_recase_keeps_i_and_capitalises_each_sentence_but_not_after_an_ellipsis():
    assert recase("WELL... I THINK I'LL GO. BYE!", shouted=True) == "Well... I think I'll go. Bye!"
    assert recase("so i said no. it was late") == "So I said no. It was late"
