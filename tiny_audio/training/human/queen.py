"""Flight of the Amazon Queen (Debian package ``flight-of-the-amazon-queen``, CD version): its
voice files with their exact subtitles and speakers.

    clips = queen_clips(fetch_package("flight-of-the-amazon-queen", cache_dir).root)

Everything is in one archive, ``queen.1c`` (``queen_archive``). A voice file's text is found
the way the game finds the file: from the sentences of the dialogue files (``queen_dialogue``),
of Joe's responses and object descriptions (``queen_logic``) and of the cutaways
(``queen_cutaway``), each cut into the pieces the game plays. The speaker is Joe for Joe's
lines, the dialogue's person for the others, and for a cutaway the actor the room gives that
person (``QueenLogic.object_speaker``). Left out: cutaway text spoken by no named object (85
clips), cutaway lines of a person slot that several characters share (about 300 clips: the game
picks one by its state), the archive's sound effects and unused takes.
"""

from __future__ import annotations

from pathlib import Path

from tiny_audio.training.human.clip import SOUNDFILE, SpeechClip
from tiny_audio.training.human.queen_archive import COMPRESSION_MP3, PLAYBACK_RATE, QueenArchive, QueenFormatError
from tiny_audio.training.human.queen_cutaway import cutaway_lines
from tiny_audio.training.human.queen_dialogue import dialogue_lines, voice_pieces
from tiny_audio.training.human.queen_logic import JOE, QueenLogic

SOURCE = "queen"
PACKAGE = "flight-of-the-amazon-queen"
GAME_DIR = Path("usr/share/scummvm/flight-of-the-amazon-queen")
ARCHIVE_NAME = "queen.1c"
ENGLISH_CD_VERSION = "CEM10"


def voice_lines(archive: QueenArchive) -> dict[str, tuple[str, str]]:
    """{voice-file name: (character, text)} for every piece of every spoken sentence; the first
    sentence that names a file wins (dialogues, then Joe's lines, then cutaways)."""
    logic = QueenLogic(archive.read("QUEEN.JAS"), archive.read("QUEEN2.JAS"))
    if logic.version != archive.version:
        raise QueenFormatError(f"QUEEN.JAS does not end its records with {archive.version!r}: misread")
    found: dict[str, tuple[str, str]] = {}

    def add(prefix: str, sentence: str, speaker: str) -> None:
        for name, text in voice_pieces(prefix, sentence):
            found.setdefault(name, (speaker, text))

    for dialogue in archive.names(".DOG"):
        person = logic.dialogue_speaker(dialogue)
        for line in dialogue_lines(archive.read(dialogue)):
            add(line.voice_prefix, line.sentence, JOE if line.by_joe else person)
    for prefix, sentence in logic.joe_lines():
        add(prefix, sentence, JOE)
    for cutaway in archive.names(".CUT"):
        for line in cutaway_lines(cutaway, archive.read(cutaway), logic):
            speaker = logic.object_speaker(line.object_number) if line.object_number >= 0 else None
            if speaker is not None:
                add(line.voice_prefix, line.sentence, speaker)
    return found


def queen_clips(package_root: Path) -> list[SpeechClip]:
    """Every voice file whose text and speaker the game data give, in file-name order."""
    path = Path(package_root) / GAME_DIR / ARCHIVE_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no {ARCHIVE_NAME} in {path.parent}: is {package_root} the extracted {PACKAGE} package?"
        )
    archive = QueenArchive(path)
    if archive.version != ENGLISH_CD_VERSION or archive.compression != COMPRESSION_MP3:
        raise QueenFormatError(
            f"{path} is version {archive.version!r} with compression {archive.compression}; "
            f"expected the English CD version {ENGLISH_CD_VERSION} with MP3 speech"
        )
    lines = voice_lines(archive)
    clips = []
    for name, entry in sorted(archive.sounds().items()):
        if name not in lines:
            continue
        speaker, text = lines[name]
        clips.append(
            SpeechClip(
                source=SOURCE,
                clip_id=name,
                speaker=f"{SOURCE}/{speaker}",
                text=text,
                path=path,
                offset=entry.offset,
                size=entry.size,
                encoding=SOUNDFILE,
                sample_rate=PLAYBACK_RATE,
            )
        )
    return clips
