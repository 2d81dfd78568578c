"""Live transcription: rolling buffer, background re-transcription, final run."""

import time

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_models import speechlike

from tiny_audio.live.streaming import LiveSession, RollingBuffer, common_prefix


def int16_chunks(samples: np.ndarray, rate: int, seconds: float = 0.5):
    """As a browser sends them: int16 chunks at the device's rate."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    step = int(seconds * rate)
    return [pcm[i : i + step] for i in range(0, pcm.size, step)]


def stream_then_finish(tiny_model, chunks, rate: int, step_each_chunk: bool):
    """Feed the chunks to a session (running the model after each, or once at the end), then
    its final full run."""
    session = LiveSession(tiny_model, background=False)
    for chunk in chunks:
        session.feed(chunk, rate)
        if step_each_chunk:
            session.step()
    session.step()
    return session.finish()


def test_rolling_buffer_stays_bounded_and_restarts_on_a_new_rate():
    buffer = RollingBuffer(max_seconds=2.0)
    for _ in range(10):
        buffer.append(np.ones(48_000 // 2, dtype=np.int16), 48_000)
    assert buffer.seconds <= 2.0 and buffer.restarted
    stereo = np.zeros((1600, 2), dtype=np.float32)
    buffer.append(stereo, 16_000)
    assert buffer.rate == 16_000 and buffer.seconds == pytest.approx(0.1)


def test_chunked_48k_int16_stream_ends_with_the_single_run_transcript(tiny_model):
    clip = np.resize(speechlike(3.0), 3 * 48_000)  # any 48 kHz signal: tiny random models
    pcm_chunks = int16_chunks(clip, 48_000)
    final = stream_then_finish(tiny_model, pcm_chunks, 48_000, step_each_chunk=True)
    single = tiny_model.transcribe((np.concatenate(pcm_chunks), 48_000))
    assert final.final and final.result.token_ids == single.token_ids
    assert final.buffer_seconds == pytest.approx(3.0)


def test_silence_costs_no_model_run(tiny_model):
    session = LiveSession(tiny_model, background=False)
    for _ in range(6):
        assert session.feed(np.zeros(8000, dtype=np.int16), 16_000) is False
        assert session.step() is None
    assert session.model_runs == 0
    assert session.feed((speechlike(0.5) * 32767).astype(np.int16), 16_000) is True
    assert session.step() is not None and session.model_runs == 1


def test_partial_runs_decode_a_bounded_tail_and_commit_what_runs_agree_on(tiny_model):
    session = LiveSession(tiny_model, background=False, tail_tokens=4)
    tiny_model.stop_ids, saved = set(), tiny_model.stop_ids  # random weights: never stop early
    try:
        session.feed(speechlike(2.0), 16_000)
        updates = [session.step()] + [session.step(force=True) for _ in range(3)]  # same audio each time
    finally:
        tiny_model.stop_ids = saved
    tokens = [u.result.token_ids for u in updates]
    assert [len(t) for t in tokens] == [4, 4, 8, 8]  # never more than tail_tokens new per run
    assert [u.committed_tokens for u in updates] == [0, 4, 4, 8]
    assert tokens[1] == tokens[0] and tokens[2][:4] == tokens[0] and tokens[3] == tokens[2]


def test_background_worker_always_takes_the_newest_audio(tiny_model, monkeypatch):
    session = LiveSession(tiny_model)  # with its worker thread, idle until speech arrives
    transcribe = session.updates_model.transcribe

    def slow_transcribe(*args, **kwargs):  # a model far slower than the audio arrives
        time.sleep(0.2)
        return transcribe(*args, **kwargs)

    monkeypatch.setattr(session.updates_model, "transcribe", slow_transcribe)
    try:
        for chunk in int16_chunks(speechlike(4.0), 16_000, seconds=0.25):
            session.feed(chunk, 16_000)
            time.sleep(0.01)  # faster than real time: the model falls behind
        deadline = time.time() + 30
        while (session.latest() is None or session.latest().buffer_seconds < 4.0) and time.time() < deadline:
            time.sleep(0.05)
        latest = session.latest()
        assert latest is not None and latest.buffer_seconds == pytest.approx(4.0)
        assert session.model_runs <= 4  # 16 chunks in ~0.2 s: runs for stale buffers were skipped
    finally:
        session.close()


def test_past_the_window_the_settled_text_is_kept_and_settling_goes_on(tiny_model):
    session = LiveSession(tiny_model, background=False, max_seconds=3.0, tail_tokens=4)
    tiny_model.stop_ids, saved = set(), tiny_model.stop_ids  # random weights: never stop early
    try:
        committed = []
        for chunk in int16_chunks(speechlike(6.0), 16_000):  # 12 chunks of 0.5 s into a 3 s window
            session.feed(chunk, 16_000)
            update = session.step()
            committed.append(update.committed_tokens if update else None)
            session.step(force=True)  # the same window again: what two runs agree on settles
    finally:
        tiny_model.stop_ids = saved
    assert session.buffer.seconds <= 3.0
    # The window restarts once per 1.5 s hop, not on every chunk: settled tokens build up again.
    assert sum(1 for c in committed if c) >= 6
    assert session._archive  # what was settled before a restart is still shown
    assert session.latest().text.startswith(session._archive)


def test_a_failing_run_stops_the_worker_with_its_reason(tiny_model, monkeypatch):
    session = LiveSession(tiny_model)
    monkeypatch.setattr(session.updates_model, "transcribe",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("out of memory")))
    session.feed(speechlike(1.5), 16_000)
    session._worker.join(timeout=10)
    assert not session._worker.is_alive() and session.error == "out of memory"


def test_common_prefix():
    assert common_prefix([1, 2, 3, 4], [1, 2, 5]) == [1, 2]
    assert common_prefix([], [1]) == []


@pytest.mark.integration
def test_nano_live_stream_of_an_example_clip_matches_a_full_run(tmp_path):
    from tiny_audio import load_model
    from tiny_audio.app.examples import example_clips
    from tiny_audio.pipeline.audio import resample

    nano = load_model()
    wav, _ = example_clips()[0]
    samples, rate = sf.read(wav, dtype="float32")
    samples48 = resample(samples, rate, 48_000)
    chunks = int16_chunks(samples48, 48_000)
    final = stream_then_finish(nano, chunks, 48_000, step_each_chunk=False)
    assert final.text == nano.transcribe((np.concatenate(chunks), 48_000)).text


def test_a_copy_in_another_dtype_is_made_once_and_leaves_the_model_alone(tiny_model):
    copy = tiny_model.in_dtype(torch.bfloat16)
    assert copy is not tiny_model and copy.dtype == torch.bfloat16 and tiny_model.in_dtype(tiny_model.dtype) is tiny_model
    assert next(copy.decoder.parameters()).dtype == torch.bfloat16
    assert next(tiny_model.decoder.parameters()).dtype == torch.float32  # the model itself is untouched
    assert tiny_model.in_dtype(torch.bfloat16) is copy  # made once, shared
    assert copy.transcribe(speechlike(1.5), max_new_tokens=3).token_ids  # it runs in bfloat16


def test_updates_use_the_bfloat16_copy_where_the_cpu_has_it_and_the_final_run_the_model(tiny_model, monkeypatch):
    from tiny_audio.live import streaming

    session = LiveSession(tiny_model, background=False)
    expected = tiny_model.in_dtype(torch.bfloat16) if streaming.cpu_has_native_bfloat16() else tiny_model
    assert session.updates_model is expected
    assert LiveSession(tiny_model, background=False, fast_updates=False).updates_model is tiny_model
    session.feed(speechlike(1.5), 16_000)
    assert session.step().result.token_ids
    if session.updates_model is not tiny_model:  # the final run must not go to the copy
        monkeypatch.setattr(session.updates_model, "transcribe", lambda *a, **k: pytest.fail("finish used the copy"))
    assert session.finish().final
