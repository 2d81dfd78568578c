"""Licence facts of the game data the human-speech clips come from, for the model card.

Taken from each package's ``usr/share/doc/<package>/copyright`` (Debian main). Both games are
freeware under near-identical BSD-like licences: free redistribution (also in larger, possibly
commercial collections) with the readme and notices intact, modification allowed if marked,
no fee for the game itself. The clips are read at build time and never committed or shipped.
"""

from __future__ import annotations

from tiny_audio.training.human.debian import ExtractedPackage

LICENCES = {
    "drascula": {
        "package": "drascula",
        "version": "1.0+ds4-2",
        "work": "Drascula: The Vampire Strikes Back",
        "copyright": "1996-2008, Alcachofa Soft S.L.",
        "licence": "Drascula-License",
        "terms": (
            "free distribution on any medium with the readme and notices intact; may be part of a larger, "
            "possibly commercial distribution; no fee for the game itself; may be modified, modified "
            "versions marked as such; provided as is"
        ),
        "source": "https://scummvm.org (Debian main)",
    },
    "flight-of-the-amazon-queen": {
        "package": "flight-of-the-amazon-queen",
        "version": "1.0.0-9",
        "work": "Flight of the Amazon Queen (CD talkie version)",
        "copyright": "1995, John Passfield and Steven Stamatiadis",
        "licence": "Flight-of-the-Amazon-Queen-License",
        "terms": (
            "free distribution on any medium with the readme and notices intact; may be part of a larger, "
            "possibly commercial distribution; no fee for the game itself; may be modified, modified "
            "versions marked as such; provided as is"
        ),
        "source": "https://scummvm.org (Debian main)",
    },
}


def copyright_text(package: ExtractedPackage) -> str:
    """The package's own copyright file, in full."""
    return package.doc_file("copyright").read_text(encoding="utf-8")
