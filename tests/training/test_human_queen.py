"""Flight of the Amazon Queen's speech: the archive, sentences cut into voice files, dialogue and
cutaway files and the logic files' speakers, checked on files built here in the documented
formats; one integration test on the real Debian package."""

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from tiny_audio.loading.weights.cache import cache_dir
from tiny_audio.training.human.debian import PackageUnavailable, fetch_package
from tiny_audio.training.human.queen import ARCHIVE_NAME, GAME_DIR, queen_clips
from tiny_audio.training.human.queen_archive import PLAYBACK_RATE, QueenArchive, QueenFormatError
from tiny_audio.training.human.queen_cutaway import cutaway_lines
from tiny_audio.training.human.queen_dialogue import dialogue_lines, voice_pieces
from tiny_audio.training.human.queen_logic import JOE_RESPONSES, QueenLogic, canonical_speaker

HEADER = b"H" * 20


def h(*values):
    return struct.pack(f">{len(values)}h", *values)


def string(text, align=2):
    raw = bytes([len(text)]) + text.encode("latin-1")
    if text:
        raw += b"\0" * (-(len(raw)) % align)
    return raw


def make_archive(files: dict[str, bytes], version=b"CEM10\0", compression=1) -> bytes:
    names = sorted(files)
    start = 4 + 6 + 2 + 1 + 2 + 21 * len(names)
    table, blob = b"", b""
    for name in names:
        table += name.encode().ljust(12, b"\0") + struct.pack(">BII", 1, start + len(blob), len(files[name]))
        blob += files[name]
    return b"QTBL" + version + b"\0\0" + bytes([compression]) + struct.pack(">H", len(names)) + table + blob


def make_jas():
    """Two rooms; objects 1 (Skip, a person) and 2 (a rock) in room 1, 3 and 4 (people) in room 2."""
    objects = [
        (1, 0, 0, 1, 0, 1, 0, -3),
        (2, 0, 0, 2, 0, 1, 0, 5),
        (3, 0, 0, 0, 0, 2, 0, -4),
        (3, 0, 0, 0, 0, 2, 0, -3),
    ]
    # actors: room, person, name (1-based), slot, value, colour, frame, x, y, anim, bank, file
    actors = [(1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1), (2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    actors += [
        (2, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (2, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (9, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 2),
    ]
    data = h(2, 3, 4, 2)
    data += b"".join(h(*o) for o in objects)
    data += h(0, 2, 4)  # first object of each room, minus one
    data += h(0, 0)  # sound effects
    data += h(0) + h(0)  # items, graphics
    data += h(0, 1) + b"A" * 16 + h(0, 0)  # room 1: one walking area; room 2: none
    data += b"B" * 8 * 4  # object boxes
    data += h(0) + h(0)  # walk-offs, descriptions
    data += b"".join(h(0) + b"C" * size for size in (20, 6, 6, 6, 8))  # empty command tables keep a record
    data += h(7) + h(0)  # entry object, furniture
    data += h(len(actors), 1, 5, 2) + b"".join(h(*a) for a in actors)
    data += h(0) + b"G" * 6 + b"CEM10\0"  # graphic animations (one record though none), version
    text = ["It's a rock*24", "A big rock*03", "Skip", "rock", "Guard", "room one", "room two"]
    text += [f"verb{i}" for i in range(12)]
    text += ["It doesn't seem to open*03"] + [f"response {i}*02" for i in range(2, JOE_RESPONSES + 1)]
    text += ["anim", "LOU", "X4_RITA", "GUARDS", "TMPD", "SECRETARY", "lou.act", "sec.act"]
    return HEADER + data, "\r\n".join(text).encode("latin-1") + b"\r\n"


def make_dog(talk_key=8):
    joe = [(0, "Hi, I'm Joe King,*16pilot for hire.*03"), (6, "Are you explorers?*15")]
    person = [(1, "Hello Joe...*02*01*01I'm Bud,*08*FRand my friend here is Skip.*07*00*FLWe're explorers.")]
    person += [(6, "Uh huh.")]
    body = bytearray(h(1, 3, talk_key, len(joe), len(person)) + h(0) * 6 + h(0, 0, 0) + b"\0" * 4)
    body += b"T" * 96  # the dialogue tree of the one level
    for sentence_id, text in joe:
        body += b"\0\0" + h(sentence_id) + string(text, 4)
    person_offset = len(body)
    for sentence_id, text in person:
        body += b"\0\0" + h(sentence_id) + string(text, 4)
    again_offset = len(body)
    body += string("*02Hi Joe.*03") + string("Hello.*02")
    struct.pack_into(">3H", body, 22, person_offset, 0, again_offset)
    return HEADER + bytes(body)


def make_cutaway():
    def obj(number, animation_list=0, execute=0, source=0, people=()):
        values = [number, 0, 0, 0, animation_list, execute, 0, 0, 0, 0, 0, 0, source, 0, 0, 0, 0]
        return h(*values) + h(len(people), *people)

    frame = h(2, *range(9))
    objects = [obj(1), obj(2, execute=1) + frame + frame + h(-2), obj(0, people=(1, 3)), obj(-2), obj(4), obj(-1)]
    sentences = ["*FL", "Hello Joe.*03I'm Skip.", "*", "Right.*FL", "Meanwhile...", "Halt!", "#CREDIT1.CRD"]
    head_size = 12 + sum(len(o) for o in objects)
    body = h(0, len(objects), 0, 0, head_size, 0) + b"".join(objects) + b"".join(string(s) for s in sentences)
    return HEADER + body


def test_sentences_cut_into_the_voice_files_the_game_plays():
    sentence = "Hello Joe...*02*01*01I'm Bud,*08*FRand my friend here is Skip.*07*00*FLWe're explorers."
    assert voice_pieces(" 8   1P", sentence) == [
        ("080001P1", "Hello Joe..."),
        ("080001P4", "I'm Bud,"),
        ("080001P6", "and my friend here is Skip."),
        ("080001P9", "We're explorers."),
    ]
    assert voice_pieces("JOE0007", "Ok*XY00(237,112)Go*GDthere") == [
        ("JOE00071", "Ok"),
        ("JOE00073", "there"),
    ]  # "Go" ends in a grab: not played
    assert voice_pieces("C1___01", "*03") == []
    eleven = "*01".join(f"w{i}" for i in range(11))
    assert voice_pieces("X", eleven)[-1] == ("XB", "w10")  # pieces count in hex


def test_dialogue_file_lines_and_prefixes():
    lines = dialogue_lines(make_dog())
    assert [(line.voice_prefix, line.by_joe) for line in lines] == [
        (" 8SSSSJ", True),
        (" 8   6J", True),
        (" 8   1P", False),
        (" 8   6P", False),
        (" 8XXXXP", False),
        (" 8XXXXJ", True),
    ]
    assert lines[2].sentence.startswith("Hello Joe...*02") and lines[4].sentence == "*02Hi Joe.*03"


def test_archive_table_and_refusals(tmp_path):
    path = tmp_path / "queen.1c"
    path.write_bytes(make_archive({"B.SB": b"bb", "A.DOG": b"aaa"}))
    archive = QueenArchive(path)
    assert (archive.version, archive.compression) == ("CEM10", 1)
    assert archive.read("a.dog") == b"aaa" and archive.read("B.SB") == b"bb"
    assert list(archive.sounds()) == ["B"] and archive.names(".DOG") == ["A.DOG"]
    path.write_bytes(b"QTBX" + make_archive({})[4:])
    with pytest.raises(QueenFormatError, match="QTBL"):
        QueenArchive(path)
    path.write_bytes(make_archive({"B.SB": b"bb"})[:-1])
    with pytest.raises(QueenFormatError, match="past the end"):
        QueenArchive(path)


def test_logic_speakers_and_joe_lines():
    logic = QueenLogic(*make_jas())
    assert logic.version == "CEM10"
    assert logic.joe_lines()[0] == ("JOE0001", "It doesn't seem to open*03")
    assert logic.joe_lines()[JOE_RESPONSES] == ("JOE0041", "It's a rock*24")
    assert logic.object_speaker(0) == "joe"
    assert logic.object_speaker(1) == "lou"  # the room's actor, not the object's name "Skip"
    assert logic.object_speaker(3) == "rita"
    assert logic.object_speaker(4) is None  # two actors share that person slot
    assert logic.dialogue_speaker("LOU1.DOG") == "lou"
    assert logic.dialogue_speaker("SEC2.DOG") == "secretary"  # by the actor's file
    assert logic.dialogue_speaker("TALLPYG.DOG") == "tallpyg"
    assert [canonical_speaker(n) for n in ("FAYE-H", "X10_RITA", "LOLA_SHOWER", "ZOMBIE2", "ANDSON-E")] == [
        "faye", "rita", "lola", "zombie", "anderson",
    ]  # fmt: skip


def test_cutaway_lines_skip_animation_frames():
    lines = cutaway_lines("C9.CUT", make_cutaway(), QueenLogic(*make_jas()))
    assert [(line.voice_prefix, line.sentence, line.object_number) for line in lines] == [
        ("C9___01", "Hello Joe.*03I'm Skip.", 1),
        ("C9___03", "Right.*FL", 0),
        ("C9___04", "Meanwhile...", -2),
        ("C9___05", "Halt!", 4),
    ]


def _wav(seconds=0.25, rate=11_025):
    buffer = io.BytesIO()
    sf.write(buffer, 0.3 * np.sin(np.arange(int(seconds * rate)) / 5.0), rate, format="WAV")
    return buffer.getvalue()


def test_queen_clips_end_to_end(tmp_path):
    jas, jas_text = make_jas()
    voice = _wav()
    files = {"QUEEN.JAS": jas, "QUEEN2.JAS": jas_text, "BUD1.DOG": make_dog(), "C9.CUT": make_cutaway()}
    for name in ("080001P1", "080001P4", "08SSSSJ1", "08SSSSJ2", "JOE00011", "C9___011", "C9___012", "C9___031"):
        files[name + ".SB"] = voice
    files.update({"C9___041.SB": voice, "C9___051.SB": voice, "27SSSSSS.SB": voice})  # unnamed, shared, effect
    game = tmp_path / GAME_DIR
    game.mkdir(parents=True)
    (game / ARCHIVE_NAME).write_bytes(make_archive(files))
    clips = queen_clips(tmp_path)
    assert [(c.clip_id, c.speaker, c.text) for c in clips] == [
        ("080001P1", "queen/bud", "Hello Joe..."),
        ("080001P4", "queen/bud", "I'm Bud,"),
        ("08SSSSJ1", "queen/joe", "Hi, I'm Joe King,"),
        ("08SSSSJ2", "queen/joe", "pilot for hire."),
        ("C9___011", "queen/lou", "Hello Joe."),
        ("C9___012", "queen/lou", "I'm Skip."),
        ("C9___031", "queen/joe", "Right."),
        ("JOE00011", "queen/joe", "It doesn't seem to open"),
    ]
    samples, rate = clips[0].read()
    assert rate == PLAYBACK_RATE and samples.size == int(0.25 * 11_025)
    assert clips[0].seconds() == pytest.approx(samples.size / PLAYBACK_RATE)


def test_other_versions_are_refused(tmp_path):
    game = tmp_path / GAME_DIR
    game.mkdir(parents=True)
    (game / ARCHIVE_NAME).write_bytes(make_archive({}, version=b"PEM10\0"))
    with pytest.raises(QueenFormatError, match="English CD version"):
        queen_clips(tmp_path)


@pytest.mark.integration
def test_real_package_has_6311_texted_clips():
    try:
        package = fetch_package("flight-of-the-amazon-queen", cache_dir() / "debian")
    except PackageUnavailable as error:
        pytest.skip(f"Debian package flight-of-the-amazon-queen unavailable here: {error}")
    clips = queen_clips(package.root)
    assert len(clips) == 6311
    assert len({c.speaker for c in clips}) == 36
    by_id = {c.clip_id: c for c in clips}
    assert (by_id["080001P4"].speaker, by_id["080001P4"].text) == ("queen/bud", "I'm Bud,")
    assert by_id["JOE00011"].text == "It doesn't seem to open"
    assert by_id["C41B_062"].speaker == "queen/faye"
    samples, rate = by_id["080001P4"].read()
    assert rate == PLAYBACK_RATE and 0.3 < samples.size / rate < 3
    assert "John Passfield" in package.doc_file("copyright").read_text()
