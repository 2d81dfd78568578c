"""The app as strangers reach it: public mode's allowlist, every call through the queue, bounded
uploads and disk, one-line logs without server paths, and a run that fails for want of memory."""

import json
import logging
import os
import subprocess
import sys
import time
import uuid

import gradio as gr
import httpx
import numpy as np
import pytest
import soundfile as sf
from tiny_models import speechlike, tiny_app_model

from tiny_audio.app.blocks import build_demo
from tiny_audio.app.run import transcribe
from tiny_audio.app.serving import (
    MAX_FILE_SIZE,
    ClientQuota,
    QuotaExceeded,
    launch,
    serving_from_env,
    sweep_stale_files,
)
from tiny_audio.app.store import ModelRefused, ModelStore
from tiny_audio.app.views import DOWNLOADS_PREFIX, OUTPUTS, remove_orphaned_downloads

PROBES = ["/etc", "/root", "../../", "/no/such/dir", "tests", ".", "~", "owner/unlisted", "tiny/../tiny", " /etc "]


def test_public_mode_is_on_beyond_localhost_and_on_a_space():
    assert not serving_from_env("nano", {}).public
    assert not serving_from_env("nano", {"GRADIO_SERVER_NAME": "localhost"}).public
    assert serving_from_env("nano", {"GRADIO_SERVER_NAME": "0.0.0.0"}).public
    assert serving_from_env("nano", {"SPACE_ID": "someone/lab"}).public
    assert not serving_from_env("nano", {"GRADIO_SERVER_NAME": "0.0.0.0", "TINY_AUDIO_PUBLIC": "0"}).public
    assert serving_from_env("nano", {"TINY_AUDIO_PUBLIC": "1"}).public
    listed = serving_from_env("ck", {"TINY_AUDIO_PUBLIC": "1", "TINY_AUDIO_ALLOWED_MODELS": " a/b@v1 , c/d,,"})
    assert listed.offered == ("nano", "ck", "a/b@v1", "c/d") and listed.allowed == listed.offered
    assert serving_from_env("nano", {}).allowed is None and serving_from_env("nano", {}).quota is None


def test_public_store_loads_only_listed_names_and_never_looks_at_the_file_system(monkeypatch):
    loads = []
    store = ModelStore(loader=lambda spec: loads.append(spec) or spec, pinned="nano", allowed=["nano", "tiny"])
    touched = []
    import pathlib

    real_is_dir = pathlib.Path.is_dir
    monkeypatch.setattr(pathlib.Path, "is_dir", lambda self: touched.append(str(self)) or real_is_dir(self))
    messages = set()
    for probe in PROBES:
        with pytest.raises(ModelRefused) as refused:
            store.get(probe)
        messages.add(str(refused.value).replace(probe.strip(), "NAME"))
        with pytest.raises(ModelRefused):
            store.loader(probe)  # what the Live tab's worker loads with
    assert touched == [] and loads == []
    assert messages == {"'NAME' is not offered on this server; choose one of: nano, tiny"}  # nothing to tell apart
    monkeypatch.undo()
    assert store.get("tiny") == "tiny" and store.get(" tiny ") == "tiny" and loads == ["tiny"]


def test_the_visitor_budget_refuses_at_once_and_refills():
    quota = ClientQuota(seconds=60, window_s=100)
    quota.charge("a", 30, now=0)
    quota.charge("a", 30, now=10)
    with pytest.raises(QuotaExceeded, match="at most 60 s of audio per visitor"):
        quota.charge("a", 1, now=20)
    quota.charge("b", 30, now=20)  # another visitor is not held back
    quota.charge("a", 30, now=101)  # the first charge left the window


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "speech.wav"
    sf.write(path, speechlike(2.0), 16_000)
    return str(path)


def test_an_out_of_memory_run_is_reported_and_the_app_keeps_serving(clip, caplog):
    store = ModelStore(loader=tiny_app_model, pinned="tiny")
    model = store.get("tiny")
    # A real allocation failure inside the run: the projector asks the allocator for 8 PB.
    hook = model.projector.register_forward_hook(lambda *_: __import__("torch").empty(2**50, 8))
    with caplog.at_level(logging.INFO, logger="tiny_audio.app"):
        with pytest.raises(gr.Error, match="ran out of memory for this clip"):
            transcribe(store, clip, "tiny")
    hook.remove()
    _, _, result, _ = transcribe(store, clip, "tiny")
    assert result.token_ids
    assert [r.message.split(":")[0] for r in caplog.records] == ["out of memory"]


def test_user_errors_are_one_log_line_without_server_paths(clip, tmp_path, caplog):
    store = ModelStore(loader=tiny_app_model, pinned="tiny")
    broken = tmp_path / "deep" / "folder" / "upload.wav"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))
    bomb = tmp_path / "bomb.wav"
    sf.write(bomb, np.full(2_000, 100, dtype=np.int16), 50_000_017, subtype="PCM_16")
    with caplog.at_level(logging.INFO, logger="tiny_audio.app"):
        for path, spec in ((str(broken), "tiny"), (str(bomb), "tiny"), (clip, str(tmp_path / "no-model"))):
            with pytest.raises(gr.Error) as error:
                transcribe(store, path, spec)
            assert str(tmp_path) not in error.value.message
    assert len(caplog.records) == 3
    assert all(r.exc_info is None and "\n" not in r.getMessage() and str(tmp_path) not in r.getMessage()
               for r in caplog.records)


@pytest.fixture(scope="module")
def public_app():
    """The app in public mode, queued and launched exactly as app.py does it (tiny model)."""
    serving = serving_from_env("tiny", {"TINY_AUDIO_PUBLIC": "1", "TINY_AUDIO_ALLOWED_MODELS": "tiny"})
    loads = []

    def loader(spec):
        loads.append(spec)
        return tiny_app_model(spec)

    store = ModelStore(loader=loader, pinned="tiny", allowed=serving.allowed)
    store.get("tiny")
    demo = build_demo(store, quota=serving.quota, slots=serving.slots)
    launch(demo, serving, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        yield demo, loads
    finally:
        demo.close()


def test_public_app_refuses_server_paths_and_unlisted_models(public_app, clip):
    from gradio_client import Client, handle_file

    demo, loads = public_app
    client = Client(demo.local_url, verbose=False)
    outputs = dict(zip(OUTPUTS, client.predict(handle_file(clip), "tiny", False, False, api_name="/transcribe")))
    assert isinstance(outputs["transcript"], str)
    answers = set()
    for probe in ("/etc", "../../", "/no/such/dir", "owner/unlisted"):
        with pytest.raises(Exception) as error:
            client.predict(handle_file(clip), probe, False, False, api_name="/transcribe")
        answers.add(str(error.value).replace(probe, "NAME"))
    assert len(answers) == 1 and "is not offered on this server" in answers.pop()  # the same, whatever exists
    assert loads == ["tiny"]


def test_every_call_goes_through_the_queue(public_app, clip):
    demo, _ = public_app
    for route in ("run", "api"):
        response = httpx.post(f"{demo.local_url}gradio_api/{route}/transcribe",
                              json={"data": [None, "tiny", False, False, "model's default"]}, timeout=30)
        assert response.status_code == 404 and "join the queue" in response.text


def test_private_events_called_directly_reach_nothing_more(public_app, clip):
    """An event hidden from the API (the log-y toggle, which redraws the session's latest run) joined
    by hand through the queue, with a forged run: it sees only its own session's state, which holds
    nothing, while another visitor's run exists."""
    from gradio_client import Client, handle_file

    demo, _ = public_app
    Client(demo.local_url, verbose=False).predict(handle_file(clip), "tiny", False, False, api_name="/transcribe")
    toggle = next(fn for fn in demo.fns.values() if fn.api_visibility == "private" and fn.name == "on_toggle")
    session = uuid.uuid4().hex
    joined = httpx.post(f"{demo.local_url}gradio_api/queue/join", timeout=30, json={
        "data": [{"result": "forged"}, True, False], "fn_index": toggle._id, "session_hash": session,
        "trigger_id": None})
    assert joined.status_code == 200
    with httpx.stream("GET", f"{demo.local_url}gradio_api/queue/data", params={"session_hash": session},
                      timeout=30) as stream:
        events = [json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:")]
    done = [event for event in events if event.get("msg") == "process_completed"]
    assert done and done[0]["success"] and done[0]["output"]["data"] == [{"__type__": "update"}]  # no figure


def test_uploads_over_the_size_limit_are_refused(public_app, tmp_path):
    demo, _ = public_app
    limit = int(MAX_FILE_SIZE.removesuffix("mb")) * 1024 * 1024  # Gradio counts a megabyte as 1024²
    big = tmp_path / "big.wav"
    with open(big, "wb") as out:
        out.truncate(limit + 1024)
    with open(big, "rb") as data:
        response = httpx.post(f"{demo.local_url}gradio_api/upload", files={"files": ("big.wav", data)}, timeout=60)
    assert response.status_code == 413


def test_a_resampling_bomb_through_the_served_app_is_refused_fast(public_app, tmp_path):
    from gradio_client import Client, handle_file

    demo, _ = public_app
    bomb = tmp_path / "bomb.wav"
    sf.write(bomb, np.full(2_000, 100, dtype=np.int16), 50_000_017, subtype="PCM_16")
    assert bomb.stat().st_size < 5_000
    client = Client(demo.local_url, verbose=False)
    with pytest.raises(Exception, match="sample rate 50,000,017 Hz is not supported"):
        client.predict(handle_file(str(bomb)), "tiny", False, False, api_name="/transcribe")


def test_gradio_forgets_uploads_and_outputs_when_the_server_stops(clip):
    from gradio_client import Client, handle_file

    store = ModelStore(loader=tiny_app_model, pinned="tiny")
    demo = build_demo(store)
    launch(demo, serving_from_env("tiny", {}), prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        for _ in range(2):
            client.predict(handle_file(clip), "tiny", False, False, api_name="/transcribe")
        cached = [path for files in demo.temp_file_sets for path in files]
        assert any(p.endswith(".wav") for p in cached) and any(p.endswith(".json") for p in cached)
    finally:
        demo.close()
    assert demo.delete_cache[1] <= 900  # and until then, nothing older than 15 minutes stays
    assert [p for p in cached if os.path.exists(p)] == []


def test_files_a_killed_process_left_behind_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    orphan = tmp_path / f"{DOWNLOADS_PREFIX}{dead.stdout.strip()}"
    alive = tmp_path / f"{DOWNLOADS_PREFIX}{os.getpid()}"
    for folder in (orphan, alive):
        (folder / "run").mkdir(parents=True)
        (folder / "run" / "projector_lab_trace.json").write_text("{}")
    assert remove_orphaned_downloads(tmp_path) == [orphan] and alive.exists()

    cache = tmp_path / "cache"
    (cache / "a1").mkdir(parents=True)
    old, new = cache / "a1" / "old.wav", cache / "new.wav"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    os.utime(cache / "a1", (hour_ago, hour_ago))
    assert sweep_stale_files(cache) == 1 and new.exists() and not old.exists()
    os.utime(cache / "a1", (hour_ago, hour_ago))  # deleting the file touched its folder
    sweep_stale_files(cache)
    assert not (cache / "a1").exists()
