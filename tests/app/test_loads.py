"""Models loaded by many visitors at once: one load at a time in the process, one load per model
however its name is spelled."""

import json
import threading

import pytest
import torch
from safetensors.torch import save_file
from tiny_models import save_pair, speechlike, tiny_llama, tiny_tokenizer, tiny_whisper

from tiny_audio.app.store import ModelStore
from tiny_audio.loading.load import load_model
from tiny_audio.pipeline.projector import AudioProjector


def write_checkpoint(folder, tokenizer, seed):
    """A Tiny Audio checkpoint (course layout) whose config points at a tiny Whisper and a tiny Llama."""
    folder.mkdir(parents=True)
    decoder = tiny_llama(len(tokenizer), seed=seed)
    encoder_dir, decoder_dir = save_pair(folder, tiny_whisper(seed=seed), decoder, tokenizer)
    checkpoint = folder / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({
        "audio_model_id": encoder_dir, "text_model_id": decoder_dir, "encoder_dim": 32,
        "llm_dim": decoder.config.hidden_size, "audio_downsample_rate": 5, "projector_hidden_dim": 64}))
    torch.manual_seed(seed)
    projector = AudioProjector(32, decoder.config.hidden_size, k=5, hidden_dim=64)
    save_file({k: v.contiguous() for k, v in projector.state_dict().items()}, checkpoint / "projector.safetensors")
    return checkpoint


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    tokenizer = tiny_tokenizer()
    return [write_checkpoint(root / name, tokenizer, seed) for seed, name in enumerate("abc", start=1)]


def cpu_loader(spec):
    return load_model(spec, device="cpu")


def test_simultaneous_loads_of_different_models_all_work_and_so_do_later_ones(checkpoints):
    # Unserialised, transformers' loading leaves its initialisation state patched when two loads
    # overlap: both fail with "Cannot copy out of meta tensor", and so does every later load.
    first, second, third = (str(c) for c in checkpoints)
    failures = []

    def visit(spec):
        try:
            store.get(spec).transcribe((speechlike(1.0), 16_000), max_new_tokens=2)
        except Exception as error:  # noqa: BLE001 - the test reports every failure
            failures.append(f"{type(error).__name__}: {str(error)[:120]}")

    for _ in range(3):  # overlapping loads of fresh copies each round
        store = ModelStore(loader=cpu_loader, capacity=4, pinned="none")
        visitors = [threading.Thread(target=visit, args=(spec,)) for spec in (first, second, first, second)]
        for visitor in visitors:
            visitor.start()
        for visitor in visitors:
            visitor.join(120)
        assert failures == []
    visit(third)  # a model nobody loaded before, after all that
    assert failures == []


def test_loads_never_overlap_even_for_different_models():
    inside, most = [], []
    lock = threading.Lock()

    def loader(spec):
        with lock:
            inside.append(spec)
            most.append(len(inside))
        threading.Event().wait(0.2)
        with lock:
            inside.remove(spec)
        return spec

    store = ModelStore(loader=loader, capacity=8, pinned="none")
    threads = [threading.Thread(target=store.get, args=(name,)) for name in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert all(store.is_loaded(name) for name in "abcd")
    assert max(most) == 1


def test_aliases_of_one_directory_load_once(checkpoints, monkeypatch):
    loads = []

    def loader(spec):
        loads.append(spec)
        return spec

    checkpoint = checkpoints[0]
    monkeypatch.chdir(checkpoint.parent.parent)
    relative = f"{checkpoint.parent.name}/{checkpoint.name}"
    store = ModelStore(loader=loader, pinned="nano")
    aliases = [relative, relative + "/", relative.replace("/", "//"), relative.replace("/", "/./"), str(checkpoint),
               f"  {relative}  ", f"{checkpoint.parent.name}/../{relative}"]
    models = {store.get(alias) for alias in aliases}
    assert len(loads) == 1 and len(models) == 1
    assert all(store.is_loaded(alias) for alias in aliases)
    # Hub names keep their spelling, revision included (spaces around '@' aside).
    store.get("owner/model @ v1")
    assert store.is_loaded("owner/model@v1") and not store.is_loaded("owner/model")
