"""Fixtures every test folder shares: tiny real models (random weights, a tokenizer trained
in-process), built once and used by many tests. The factories behind them are in tiny_models.py."""

import pytest
from tiny_models import tiny_pipeline, tiny_tokenizer


@pytest.fixture(scope="session")
def tokenizer():
    """A byte-level BPE tokenizer with a ChatML chat template (never modified by a test)."""
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def tiny_model():
    """A whole AudioLLM: tiny Whisper → SwiGLU projector → tiny Qwen3. Per module, since tests
    may change its stop tokens or patch its methods."""
    return tiny_pipeline()
