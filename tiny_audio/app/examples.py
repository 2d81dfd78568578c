"""The example clips shipped in ``assets/examples``: synthesised speech with its reference text."""

from __future__ import annotations

from tiny_audio.paths import EXAMPLES_DIR


def example_clips() -> list[tuple[str, str]]:
    """(wav path, reference text) for each example, sorted by name."""
    clips = []
    for wav in sorted(EXAMPLES_DIR.glob("*.wav")):
        text_file = wav.with_suffix(".txt")
        clips.append((str(wav), text_file.read_text().strip() if text_file.exists() else ""))
    return clips
