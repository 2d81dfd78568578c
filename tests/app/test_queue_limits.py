"""The served app's queue as strangers meet it: one visitor's requests waiting or running at once
are bounded (refused when they ask to join, before they take a place in the queue), the queue as a
whole is bounded, and other visitors are served meanwhile.

Visitors are told apart by the address their connection comes from: here real connections from
two loopback addresses (127.0.0.1 and 127.0.0.2) to the app launched as app.py launches it."""

import json
import threading
import uuid

import httpx
import pytest
import soundfile as sf
from tiny_models import speechlike, tiny_app_model

from tiny_audio.app import serving as serving_module
from tiny_audio.app.blocks import build_demo
from tiny_audio.app.serving import CLIENT_PENDING, ClientSlots, TooManyRequests, launch, serving_from_env
from tiny_audio.app.store import ModelStore

GATE_TIMEOUT_S = 120


class Gate:
    """Holds every run inside the model until opened: the decoder's forward waits on it, so the
    test decides when runs finish, and knows when one has started."""

    def __init__(self):
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, *_):
        self.entered.set()
        if not self.opened.wait(GATE_TIMEOUT_S):
            raise RuntimeError("the test never opened the gate")


class Visitor:
    """Raw queue calls from one source address, as a browser tab (one session per request) makes them."""

    def __init__(self, url: str, address: str):
        self.url = url
        self.http = httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60)

    def upload(self, path: str) -> dict:
        response = self.http.post(f"{self.url}gradio_api/upload", files={"files": ("speech.wav", open(path, "rb"))})
        response.raise_for_status()
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": "speech.wav"}

    def join(self, fn_index: int, audio: dict) -> tuple[httpx.Response, str]:
        session = uuid.uuid4().hex
        response = self.http.post(f"{self.url}gradio_api/queue/join", json={
            "data": [audio, "tiny", False, False, "model's default"], "fn_index": fn_index,
            "session_hash": session, "trigger_id": None})
        return response, session

    def outcome(self, session: str) -> dict:
        """The request's process_completed message (read after it has run)."""
        with self.http.stream("GET", f"{self.url}gradio_api/queue/data", params={"session_hash": session},
                              timeout=GATE_TIMEOUT_S) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    if event.get("msg") == "process_completed":
                        return event
        raise AssertionError("the stream ended without a result")


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "speech.wav"
    sf.write(path, speechlike(2.0), 16_000)
    return str(path)


def served(monkeypatch=None, queue_size=None):
    """The app in public mode, launched as app.py launches it, with a gate in its model."""
    if queue_size is not None:
        monkeypatch.setattr(serving_module, "QUEUE_SIZE", queue_size)
    serving = serving_from_env("tiny", {"TINY_AUDIO_PUBLIC": "1"})
    store = ModelStore(loader=tiny_app_model, pinned="tiny", allowed=serving.allowed)
    gate = Gate()
    store.get("tiny").decoder.register_forward_hook(gate)
    demo = build_demo(store, quota=serving.quota, slots=serving.slots)
    launch(demo, serving, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    fn_index = next(fn._id for fn in demo.fns.values() if fn.api_name == "transcribe")
    return demo, gate, fn_index


def test_one_visitor_cannot_hold_more_than_their_share_of_the_queue(clip):
    demo, gate, fn_index = served()
    try:
        first, second = Visitor(demo.local_url, "127.0.0.1"), Visitor(demo.local_url, "127.0.0.2")
        audio = first.upload(clip)
        held = []
        for _ in range(CLIENT_PENDING):  # one running (inside the gate), the others waiting
            response, session = first.join(fn_index, audio)
            assert response.status_code == 200, response.text
            held.append(session)
            assert gate.entered.wait(GATE_TIMEOUT_S)
        refused, _ = first.join(fn_index, audio)
        assert refused.status_code == 422  # refused on joining: it never took a place in the queue
        messages = [d["message"] for d in refused.json()["detail"] if d.get("is_valid") is False]
        assert messages == [f"You already have {CLIENT_PENDING} requests waiting or running on this server; "
                            "wait for one to finish, then try again."]
        other, other_session = second.join(fn_index, second.upload(clip))  # another visitor is served
        assert other.status_code == 200, other.text
        gate.opened.set()
        for visitor, session in [(first, s) for s in held] + [(second, other_session)]:
            done = visitor.outcome(session)
            assert done["success"] and isinstance(done["output"]["data"][0], str), done
        again, session = first.join(fn_index, audio)  # finished runs gave their places back
        assert again.status_code == 200 and first.outcome(session)["success"]
    finally:
        gate.opened.set()
        demo.close()


def test_a_full_queue_turns_newcomers_away_and_keeps_serving(clip, monkeypatch):
    demo, gate, fn_index = served(monkeypatch, queue_size=2)
    try:
        visitors = [Visitor(demo.local_url, f"127.0.0.{n}") for n in range(2, 6)]
        audio = visitors[0].upload(clip)
        response, running = visitors[0].join(fn_index, audio)
        assert response.status_code == 200 and gate.entered.wait(GATE_TIMEOUT_S)
        waiting = [visitor.join(fn_index, audio) for visitor in visitors[1:3]]  # the queue's two places
        assert [r.status_code for r, _ in waiting] == [200, 200]
        full, _ = visitors[3].join(fn_index, audio)
        assert full.status_code == 503 and "Queue is full" in full.text
        gate.opened.set()
        for visitor, (_, session) in zip(visitors, [(None, running)] + waiting):
            assert visitor.outcome(session)["success"]
        late, session = visitors[3].join(fn_index, audio)  # the newcomer is served once there is room
        assert late.status_code == 200 and visitors[3].outcome(session)["success"]
    finally:
        gate.opened.set()
        demo.close()


def test_places_are_taken_on_joining_given_back_after_the_run_and_expire():
    slots = ClientSlots(limit=2, expiry_s=100)
    slots.take("a", now=0)
    slots.take("a", now=1)
    with pytest.raises(TooManyRequests):
        slots.take("a", now=2)
    slots.take("b", now=2)  # another visitor is not held back
    slots.give_back("a")
    slots.take("a", now=3)
    with pytest.raises(TooManyRequests):
        slots.take("a", now=4)
    slots.take("a", now=101.5)  # a place whose request never ran (its tab closed) expires
    assert slots.held("a") == 2 and slots.held("nobody") == 0
    for _ in range(5):  # giving back more than was taken frees nothing extra
        slots.give_back("b")
    assert slots.held("b") == 0
