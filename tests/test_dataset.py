"""Training-data generation: sentence extraction and spoken form, the held-out rule, augmentation,
and a tiny real build (Piper + espeak-ng, two processes) that is regenerated and resumed."""

import shutil

import numpy as np
import pytest
import soundfile as sf
from sample_text import synthetic_sentences, write_fortunes

from tiny_audio.training import dataset, tts
from tiny_audio.training.dataset import (
    Sentence,
    add_noise,
    apply_gain,
    cardinal,
    change_speed,
    clean_entry,
    colored_noise,
    corpus_splits,
    extract_sentences,
    fortune_entries,
    held_out_hash,
    impulse_response,
    is_held_out,
    ordinal,
    plan_clips,
    split_sentences,
    spoken_form,
    telephone,
    wav_frames,
    year,
)

RATE = 16_000

# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


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
    held = next(f"The judge read verdict number {dataset.cardinal(i)} aloud."
                for i in range(1000) if dataset.is_held_out(f"The judge read verdict number {dataset.cardinal(i)} aloud."))
    wordnet = write_wordnet(tmp_path / "wordnet", [
        ("noun", 'a domestic animal; "the cat sat on the warm mat"; "a close weave"'),
        ("verb", 'move fast; "he ran to the store for 2 eggs"; "they performed a cappella"'),
        ("adj", f'impartial; "{held[0].lower() + held[1:-1]}"'),
        ("adv", 'quickly; "she answered the letter very quickly!"'),
    ])  # fmt: skip
    examples = list(dataset.wordnet_examples(wordnet))
    assert ("noun", "a close weave") in examples and len(examples) == 6  # the licence's quotes are skipped
    train, held_pool, corpus = dataset.training_pool(fortunes, wordnet, seed=0)
    assert [s.origin for s in train[:2]] == ["fortunes/quotes"] * 2  # the fortunes first, then WordNet shuffled
    assert sorted(s.origin for s in train[2:]) == ["wordnet/adv", "wordnet/verb"]
    assert {s.text for s in train[2:]} == {"She answered the letter very quickly!", "He ran to the store for two eggs."}
    assert held_pool == [] and corpus == 5  # the held-out example counts in the corpus but is used nowhere
    without, _, _ = dataset.training_pool(fortunes, tmp_path / "missing", seed=0)
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


def test_plan_keeps_held_out_voices_out_of_training():
    corpus = [Sentence(t, t, "test") for t in synthetic_sentences(600)]
    train, held = corpus_splits(corpus, seed=0)
    records = plan_clips(train[:300], held[:20], seed=0, engines=tts.ENGINES)
    train_voices = {(r["engine"], r["voice"]) for r in records if r["split"] == "train"}
    reserved = {(e, v) for e, voices in tts.HELD_OUT_ONLY.items() for v in voices}
    assert not train_voices & reserved
    assert {e for e, _ in train_voices} == set(tts.ENGINES)
    held_records = [r for r in records if r["split"] == "held-out"]
    assert [r["engine"] == "piper" for r in held_records] == [i % 2 == 0 for i in range(20)]
    assert all((r["engine"], r["voice"]) in reserved for r in held_records[1::2])
    assert len({r["id"] for r in records}) == len(records)
    # A sentence keeps its voice and settings when the build grows.
    assert plan_clips(train[:10], [], seed=0, engines=tts.ENGINES) == [r for r in records if r["split"] == "train"][:10]


# ---------------------------------------------------------------------------------------------
# Augmentation
# ---------------------------------------------------------------------------------------------


def speechlike(seconds=2.0, seed=0):
    """Bursts of harmonics with pauses: enough like speech for level and band measurements."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 450, 1200, 2500), 1))
    envelope = (np.sin(2 * np.pi * 2.5 * t) > -0.3).astype(float)
    return (0.3 * tone * envelope + 0.01 * np.random.default_rng(seed).standard_normal(t.size)).astype(np.float32)


def band_energy(samples, low, high):
    power = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / RATE)
    return power[(freqs >= low) & (freqs < high)].sum()


@pytest.mark.parametrize("color", dataset.NOISE_COLORS)
@pytest.mark.parametrize("snr_db", [10.0, 20.0, 30.0])
def test_noise_is_added_at_the_requested_snr(color, snr_db):
    clean = speechlike()
    noisy = add_noise(clean, snr_db, color, np.random.default_rng(1))
    measured = 10 * np.log10(np.mean(clean.astype(float) ** 2) / np.mean((noisy - clean).astype(float) ** 2))
    assert measured == pytest.approx(snr_db, abs=1.0)


@pytest.mark.parametrize("color, slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_noise_colors_have_their_spectral_slope(color, slope):
    noise = colored_noise(2**16, color, np.random.default_rng(0))
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(1.0, rel=1e-3)
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(noise.size)
    band = (freqs > 0.002) & (freqs < 0.4)
    fitted = np.polyfit(np.log(freqs[band]), np.log(power[band]), 1)[0]
    assert fitted == pytest.approx(slope, abs=0.15)


def test_telephone_band_leaves_nothing_above_4_khz():
    white = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1
    phone = telephone(white)
    assert abs(phone.size - white.size) <= 2
    total = band_energy(phone, 0, RATE / 2)
    assert band_energy(phone, 4000, RATE / 2) < 1e-5 * total  # below -50 dB
    assert band_energy(phone, 0, 150) < 0.01 * total
    assert band_energy(white, 4000, RATE / 2) > 0.4 * band_energy(white, 0, RATE / 2)  # it was there before


def test_gain_scales_and_never_clips():
    quiet = speechlike() * 0.5
    lowered = apply_gain(quiet, -6.0)
    assert np.sqrt(np.mean(lowered**2)) / np.sqrt(np.mean(quiet**2)) == pytest.approx(10 ** (-6 / 20), rel=1e-4)
    loud = apply_gain(speechlike() / np.abs(speechlike()).max() * 0.9, 6.0)
    assert np.abs(loud).max() == pytest.approx(dataset.PEAK_LIMIT, rel=1e-5)


@pytest.mark.parametrize("factor", [0.9, 0.95, 1.07, 1.1])
def test_speed_changes_duration_by_the_factor(factor):
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 500 * t).astype(np.float32)
    faster = change_speed(tone, factor)
    assert faster.size == pytest.approx(RATE / factor, abs=1)
    peak_hz = np.argmax(np.abs(np.fft.rfft(faster))) * RATE / faster.size
    assert peak_hz == pytest.approx(500 * factor, abs=2)  # pitch moves with speed, like tape


@pytest.mark.parametrize("rt60, drr_db", [(0.1, 10.0), (0.4, 2.0)])
def test_reverb_decays_over_rt60_at_the_requested_direct_ratio(rt60, drr_db):
    ir = impulse_response(rt60, drr_db, np.random.default_rng(0))
    assert ir[0] == 1.0 and ir.size == int(rt60 * RATE)
    assert 10 * np.log10(1.0 / np.sum(ir[1:] ** 2)) == pytest.approx(drr_db, abs=0.01)
    # Schroeder backward integration of the tail: -5 dB to -25 dB takes a third of RT60.
    decay = 10 * np.log10(np.cumsum(ir[1:][::-1] ** 2)[::-1] / np.sum(ir[1:] ** 2))
    t5, t25 = np.argmax(decay < -5) / RATE, np.argmax(decay < -25) / RATE
    assert 3 * (t25 - t5) == pytest.approx(rt60, rel=0.15)


def test_augmentation_is_a_function_of_settings_and_seed():
    settings = {
        "speed": 1.05,
        "reverb": {"rt60_s": 0.2, "drr_db": 6.0},
        "noise": {"color": "pink", "snr_db": 15.0},
        "telephone": {"band_hz": [300, 3400], "rate": 8000},
        "gain_db": -3.0,
    }
    clean = speechlike()
    first, again, other = (dataset.augment(clean, settings, seed) for seed in (7, 7, 8))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.size == pytest.approx(clean.size / 1.05, abs=2)
    assert np.array_equal(dataset.augment(clean, {}, 7), clean)


# ---------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------


def test_piper_noise_comes_from_the_seed():
    settings = {"length_scale": 1.0, "noise_scale": 0.667, "noise_w": 0.8, "noise_seed": 11}
    first, rate = tts.synthesize("piper", "joe", "Seeded noise makes this repeatable.", settings)
    again, _ = tts.synthesize("piper", "joe", "Seeded noise makes this repeatable.", settings)
    other, _ = tts.synthesize("piper", "joe", "Seeded noise makes this repeatable.", {**settings, "noise_seed": 12})
    assert rate == 22_050 and first.size > rate
    assert np.array_equal(first, again)
    assert first.size != other.size or not np.array_equal(first, other)


def test_flite_and_festival_commands(tmp_path, monkeypatch):
    text, out = tmp_path / "t.txt", tmp_path / "o.wav"
    flite = tts._file_command("flite", "slt", {"duration_stretch": 1.1, "f0_mean_hz": 170}, text, out)
    assert flite == ["flite", "-voice", "slt", "--setf", "duration_stretch=1.1", "--setf", "int_f0_target_mean=170",
                     "-f", str(text), "-o", str(out)]  # fmt: skip
    festival = tts._file_command("festival", "ked_diphone", {"duration_stretch": 0.9}, text, out)
    assert festival[-1] == str(text) and "(voice_ked_diphone)" in festival
    assert "(Parameter.set 'Duration_Stretch 0.9)" in festival
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(tts.EngineMissing, match="apt-get install"):
        tts.check_engine("flite")


# ---------------------------------------------------------------------------------------------
# A tiny real build
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fortunes(tmp_path_factory):
    return write_fortunes(tmp_path_factory.mktemp("fortunes"), 150)


@pytest.fixture(scope="module")
def tiny_build(fortunes, tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    records, stats = dataset.build(
        out, sentences=6, held_out=2, seed=5, jobs=2, engines=("piper", "espeak-ng"), fortunes=fortunes, progress=False,
        wordnet=None,
    )
    return out, records, stats


def test_tiny_build_writes_16k_wavs_that_match_the_manifest(tiny_build):
    out, records, stats = tiny_build
    assert stats["failed"] == {} and stats["rendered"] == 8
    assert dataset.read_manifest(out / "manifest.jsonl") == records
    assert [r["split"] for r in records] == ["train"] * 6 + ["held-out"] * 2
    assert [r["engine"] for r in records[6:]] == ["piper", "espeak-ng"]
    assert records[7]["voice"] in tts.HELD_OUT_ONLY["espeak-ng"] and records[7]["unseen_voice"]
    assert all(r["voice"] in tts.TRAIN_VOICES[r["engine"]] for r in records[:6])
    assert sorted(p.name for p in (out / "clips").iterdir()) == sorted(f"{r['id']}.wav" for r in records)
    for record in records:
        info = sf.info(out / record["path"])
        assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
        assert info.frames == record["samples"] and record["duration"] == pytest.approx(info.frames / RATE, abs=1e-4)
        assert 0.5 < record["duration"] < 10
        samples, _ = sf.read(out / record["path"])
        assert 0.01 < np.abs(samples).max() < 1.0
        assert record["text"] == record["source"] and record["seed"] > 0
        assert {"synth", "augment", "engine", "voice", "id", "split", "path"} <= record.keys()


def test_manifest_regenerates_identical_clips(tiny_build, tmp_path):
    out, records, _ = tiny_build
    again, stats = dataset.regenerate(out / "manifest.jsonl", tmp_path, jobs=1, progress=False)
    assert stats["failed"] == {} and len(again) == len(records)
    # Piper included: its noise is seeded, so every clip is bit-identical.
    assert dataset.compare_clips(out, tmp_path, records) == {}


def test_a_killed_build_resumes_without_trusting_partial_files(tiny_build, tmp_path, fortunes):
    out, records, _ = tiny_build
    shutil.copytree(out, tmp_path / "copy")
    copy = tmp_path / "copy"
    clips = copy / "clips"
    truncated = clips / f"{records[0]['id']}.wav"
    truncated.write_bytes(truncated.read_bytes()[:2000])  # a header that promises more than is there
    (clips / f"{records[1]['id']}.wav").unlink()
    leftover = clips / f".{records[1]['id']}.wav.4242.partial"
    leftover.write_bytes(b"RIFF")
    assert wav_frames(truncated) is None and wav_frames(clips / f"{records[2]['id']}.wav") == records[2]["samples"]

    again, stats = dataset.build(
        copy, sentences=6, held_out=2, seed=5, jobs=1, engines=("piper", "espeak-ng"), fortunes=fortunes, progress=False,
        wordnet=None,
    )
    assert (stats["rendered"], stats["reused"]) == (2, 6)
    assert not leftover.exists() and again == records
    assert dataset.compare_clips(out, copy, records) == {}


def test_wav_check_refuses_foreign_formats(tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(160, np.int16), RATE, subtype="PCM_16")
    sf.write(tmp_path / "rate.wav", np.zeros(160, np.int16), 22_050, subtype="PCM_16")
    sf.write(tmp_path / "stereo.wav", np.zeros((160, 2), np.int16), RATE, subtype="PCM_16")
    sf.write(tmp_path / "float.wav", np.zeros(160, np.float32), RATE, subtype="FLOAT")
    (tmp_path / "empty.wav").write_bytes(b"")
    assert wav_frames(tmp_path / "ok.wav") == 160
    for name in ("rate", "stereo", "float", "empty", "missing"):
        assert wav_frames(tmp_path / f"{name}.wav") is None


def test_cli_reports_the_sentences(fortunes, capsys):
    assert dataset.main(["sentences", "--fortunes", str(fortunes), "--wordnet", "/nonexistent"]) == 0
    assert "150 distinct sentences" in capsys.readouterr().out
    assert dataset.main(["build", "--out", "/nonexistent", "--engines", "nothing"]) == 2
