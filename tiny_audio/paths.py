"""Where the project's shipped files live: the nano model's trained weights and the example clips."""

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES_DIR = ASSETS / "examples"
