"""Manifest records of real human speech: one per usable game clip, with everything needed to
render its wav again, and the split of whole speakers into training and the human test set.

    packages = fetch_sources(("drascula", "queen"), cache)           # the extracted Debian packages
    records, drops = plan_records("drascula", packages["drascula"])   # split still unset
    samples = render_human(record, cache)                            # 16 kHz int16, as the build wrote it
    held = assign_splits(records, min_seconds=1800, min_speakers=5)   # after rendering: needs durations

A record names the package and version, the file inside it, the byte range, its coding and rate,
and the SHA-256 of those bytes; rendering is ``SpeechClip.read_16k`` (resampled, silence cut to
0.1 s) rounded to int16, refused when the pipeline's own input checks would refuse it (under
0.1 s, silent). The id covers exactly what the audio depends on, so a change of transcript rules
or of split keeps the wav (and its cached encoder frames).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from tiny_audio.pipeline.audio import SAMPLE_RATE, AudioError, prepare
from tiny_audio.training.human import drascula, queen
from tiny_audio.training.human.clip import SpeechClip, held_out_speakers
from tiny_audio.training.human.debian import ExtractedPackage, fetch_package
from tiny_audio.training.human.transcript import DRASCULA_NAMES, names_in_texts, transcript

KIND = "human"
TEST_SPLIT = "human-test"
# Bump when rendering changes: ids include it.
HUMAN_RENDER_VERSION = 1
# The games' heroes: the most speech of each game, always in training.
NEVER_HELD_OUT = ("drascula/john_hacker", "queen/joe")
TEST_MIN_SECONDS = 1800.0
TEST_MIN_SPEAKERS = 5
# source -> (Debian package, reader of its clips)
SOURCES: dict[str, tuple[str, Callable[[Path], list[SpeechClip]]]] = {
    drascula.SOURCE: (drascula.PACKAGE, drascula.drascula_clips),
    queen.SOURCE: (queen.PACKAGE, queen.queen_clips),
}
_AUDIO_FIELDS = ("package", "package_version", "file", "offset", "size", "encoding", "sample_rate", "sha256",
                 "render_version")  # fmt: skip


class UnusableClip(ValueError):
    """A clip whose audio the pipeline would refuse (too short, silent)."""


def fetch_sources(sources: Iterable[str], cache: Path) -> dict[str, ExtractedPackage]:
    """The extracted package of each source, fetched into ``cache`` if not there yet."""
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown human speech sources {unknown}; known: {', '.join(SOURCES)}")
    return {source: fetch_package(SOURCES[source][0], cache) for source in sources}


def source_names(source: str, clips: list[SpeechClip]) -> set[str]:
    """Words that keep their capitals in the transcripts: Drascula's list (its texts are all
    capitals), or the names the game's own mixed-case lines write capitalised."""
    return set(DRASCULA_NAMES) if source == drascula.SOURCE else names_in_texts(c.text for c in clips)


def plan_records(source: str, package: ExtractedPackage) -> tuple[list[dict], Counter]:
    """One record (split unset) per clip whose line makes a transcript, in the reader's order;
    and how many lines each transcript rule dropped."""
    clips = SOURCES[source][1](package.root)
    names = source_names(source, clips)
    records, drops = [], Counter()
    for clip in clips:
        text, reason = transcript(clip.text, names)
        if text is None:
            drops[reason] += 1
            continue
        audio = {
            "package": package.name,
            "package_version": package.version,
            "file": clip.path.relative_to(package.root).as_posix(),
            "offset": clip.offset,
            "size": clip.size,
            "encoding": clip.encoding,
            "sample_rate": clip.sample_rate,
            "sha256": hashlib.sha256(clip.raw_bytes()).hexdigest(),
            "render_version": HUMAN_RENDER_VERSION,
        }
        digest = hashlib.sha256(json.dumps(audio, sort_keys=True).encode()).hexdigest()[:8]
        records.append({"id": f"human-{source}-{clip.clip_id}-{digest}", "kind": KIND, "split": None,
                        "origin": source, "speaker": clip.speaker, "clip_id": clip.clip_id,
                        "source": clip.text, "text": text, **audio})  # fmt: skip
    return records, drops


def render_human(record: dict, package_cache: Path | None) -> np.ndarray:
    """A human record → its 16 kHz int16 samples, from the package in ``package_cache``."""
    if record["render_version"] != HUMAN_RENDER_VERSION:
        raise ValueError(f"{record['id']}: human render version {record['render_version']}, "
                         f"this is {HUMAN_RENDER_VERSION}")  # fmt: skip
    if package_cache is None:
        raise ValueError(f"{record['id']} is read from the Debian package {record['package']}: give its cache")
    package = fetch_package(record["package"], package_cache)
    if package.version != record["package_version"]:
        raise ValueError(f"{record['id']} was read from {record['package']} {record['package_version']}; "
                         f"{package_cache} holds {package.version}")  # fmt: skip
    clip = SpeechClip(record["origin"], record["clip_id"], record["speaker"], record["source"],
                      package.root / record["file"], record["offset"], record["size"], record["encoding"],
                      record["sample_rate"])  # fmt: skip
    if hashlib.sha256(clip.raw_bytes()).hexdigest() != record["sha256"]:
        raise ValueError(f"{record['id']}: the bytes of {record['file']} differ from the ones recorded")
    samples = np.round(np.clip(clip.read_16k(), -1.0, 1.0) * 32767).astype(np.int16)
    try:
        prepare(samples, SAMPLE_RATE)
    except AudioError as error:
        raise UnusableClip(str(error)) from None
    return samples


def speaker_seconds(records: Iterable[dict]) -> dict[str, float]:
    """Seconds of rendered audio per speaker."""
    totals: Counter = Counter()
    for record in records:
        totals[record["speaker"]] += record["samples"] / SAMPLE_RATE
    return dict(totals)


def assign_splits(records: list[dict], min_seconds: float = TEST_MIN_SECONDS,
                  min_speakers: int = TEST_MIN_SPEAKERS) -> list[str]:  # fmt: skip
    """Set each rendered record's split: "human-test" for the speakers ``held_out_speakers``
    chooses from the rendered durations (never ``NEVER_HELD_OUT``), "train" for the rest.
    Returns the held-out speakers."""
    held = held_out_speakers(speaker_seconds(records), min_seconds, min_speakers, never=NEVER_HELD_OUT)
    for record in records:
        record["split"] = TEST_SPLIT if record["speaker"] in held else "train"
    return held
