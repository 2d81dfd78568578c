"""The corpus: fortune entries cleaned and split into sentences, WordNet's usage examples after
them, and the fixed held-out rule."""

from sample_text import synthetic_sentences

from tiny_audio.training.corpus import (
    Sentence,
    clean_entry,
    corpus_splits,
    extract_sentences,
    fortune_entries,
    held_out_hash,
    is_held_out,
    split_sentences,
    training_pool,
    wordnet_examples,
)
from tiny_audio.training.spoken import cardinal


def test_entries_lose_attributions_labels_and_brackets_and_join_lines():
    entry = (
        "Involvement with people is always a very delicate thing --\n"
        "it requires real maturity.  [Ed. note: really]\n"
        "\t\t-- Bernard Cooke,\n\t\t   in a long book\n"
    )
    assert clean_entry(entry) == "Involvement with people is always a very delicate thing -- it requires real maturity."
    assert clean_entry("Kirk: Beam me up.\nSpock: (2) Fascinating.\n") == "Beam me up. Fascinating."
    assert clean_entry("   /\\_/\\\n  ( o.o )\n   > ^ <\n") is None  # ASCII art
    assert clean_entry("while (1) { fork(); }\n") is None  # code
    verse = "Twinkle twinkle little star\nHow I wonder what you are\nUp above the world so high.\n"
    assert clean_entry(verse) == "Twinkle twinkle little star how I wonder what you are up above the world so high."


def test_sentences_split_and_deduplicate_case_insensitively(tmp_path):
    (tmp_path / "quotes").write_text(
        "A stitch in time saves nine. Dr. Who said so!\n\t\t-- Anon\n%\n"
        "a STITCH in time saves nine.\n%\nHe left at 5. She stayed home.\n%\n"
    )
    (tmp_path / "ascii-art").write_text("Nothing in this file is ever read.\n%\n")
    (tmp_path / "quotes.dat").write_bytes(b"\x00\x01")  # strfile's index, not text
    assert split_sentences("One thing. Two things! Mr. Three?") == ["One thing.", "Two things!", "Mister Three?"]
    sentences = extract_sentences(fortune_entries(tmp_path))
    assert [s.text for s in sentences] == [
        "A stitch in time saves nine.", "Doctor Who said so!", "He left at five.", "She stayed home.",
    ]  # fmt: skip
    assert {s.origin for s in sentences} == {"fortunes/quotes"}


def write_wordnet(directory, examples):
    """WordNet's data.* layout: a licence header indented by two spaces, then synset lines."""
    directory.mkdir(exist_ok=True)
    for pos in ("noun", "verb", "adj", "adv"):
        lines = ['  1 This software and database is "provided as is" by Princeton.\n']
        for i, (kind, gloss) in enumerate(examples):
            if kind == pos:
                lines.append(f"{i:08d} 05 {pos[0]} 01 word 0 000 | {gloss}  \n")
        (directory / f"data.{pos}").write_text("".join(lines))
    return directory


def test_wordnet_examples_become_sentences_after_the_fortunes_and_never_reach_the_held_out_set(tmp_path):
    fortunes = tmp_path / "fortunes"
    fortunes.mkdir()
    (fortunes / "quotes").write_text("The cat sat on the warm mat.\n%\nShe stayed home all day long.\n%\n")
    held = next(
        f"The judge read verdict number {cardinal(i)} aloud."
        for i in range(1000)
        if is_held_out(f"The judge read verdict number {cardinal(i)} aloud.")
    )
    wordnet = write_wordnet(tmp_path / "wordnet", [
        ("noun", 'a domestic animal; "the cat sat on the warm mat"; "a close weave"'),
        ("verb", 'move fast; "he ran to the store for 2 eggs"; "they performed a cappella"'),
        ("adj", f'impartial; "{held[0].lower() + held[1:-1]}"'),
        ("adv", 'quickly; "she answered the letter very quickly!"'),
    ])  # fmt: skip
    examples = list(wordnet_examples(wordnet))
    assert ("noun", "a close weave") in examples and len(examples) == 6  # the licence's quotes are skipped
    train, held_pool, corpus = training_pool(fortunes, wordnet, seed=0)
    assert [s.origin for s in train[:2]] == ["fortunes/quotes"] * 2  # the fortunes first, then WordNet shuffled
    assert sorted(s.origin for s in train[2:]) == ["wordnet/adv", "wordnet/verb"]
    assert {s.text for s in train[2:]} == {"She answered the letter very quickly!", "He ran to the store for two eggs."}
    assert held_pool == [] and corpus == 5  # the held-out example counts in the corpus but is used nowhere
    without, _, _ = training_pool(fortunes, tmp_path / "missing", seed=0)
    assert without == train[:2]


def test_held_out_rule_is_fixed_stable_and_disjoint():
    # The rule is part of the data's definition: these values must never change.
    assert held_out_hash("The old dog found a red kite.") == 16252737064836405629
    assert held_out_hash("the OLD dog found a red kite!") == held_out_hash("The old dog found a red kite.")
    assert is_held_out("The old teacher found the blue door.") and not is_held_out("The old dog found a red kite.")
    texts = synthetic_sentences(600)
    held = {t for t in texts if is_held_out(t)}
    assert len(held) == 37  # one in sixteen of 600 is 37.5
    corpus = [Sentence(t, t, "test") for t in texts]
    train, held_pool = corpus_splits(corpus, seed=3)
    assert {s.text for s in held_pool} == held and not held & {s.text for s in train}
    assert [held_out_hash(s.text) for s in held_pool] == sorted(held_out_hash(s.text) for s in held_pool)
    # Growing the corpus moves no sentence across the split; reshuffling with a seed is repeatable.
    _, bigger_held = corpus_splits(corpus + [Sentence(t, t, "more") for t in ("A new one is here.",)], 3)
    assert held <= {s.text for s in bigger_held}
    assert [s.text for s in corpus_splits(corpus, seed=3)[0]] == [s.text for s in train]
    assert [s.text for s in corpus_splits(corpus, seed=4)[0]] != [s.text for s in train]
