"""The live model in its own process: same results as in this one, lower priority, clear errors."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tiny_models import speechlike, tiny_pipeline

from tiny_audio.live.runner import ModelRunner
from tiny_audio.live.streaming import LiveSession
from tiny_audio.live.worker import NICE, ProcessRunner, WorkerStopped, shared_runner, worker_threads
from tiny_audio.paths import ROOT
from tiny_audio.pipeline.audio import AudioError


def tiny_loader(spec: str):
    """Loads in the worker process as in this one: the same seeded random weights."""
    if spec != "tiny":
        raise ValueError(f"unknown model {spec!r}")
    return tiny_pipeline()


@pytest.fixture(scope="module")
def runner():
    runner = ProcessRunner(tiny_loader, "tiny")
    yield runner
    runner.close()


def test_the_worker_gives_what_the_model_gives_in_this_process(runner):
    here = ModelRunner(tiny_pipeline())
    audio = speechlike(1.5, rate=48_000)
    remote = runner.update(audio, 48_000, [], 4)
    local = here.update(audio, 48_000, [], 4)
    assert remote.token_ids == local.token_ids and remote.text == local.text
    assert [s.name for s in remote.stages] == [s.name for s in local.stages]  # the trace comes back too
    forced = local.token_ids[:2]
    assert runner.complete(audio, 48_000, forced, 3).token_ids == here.complete(audio, 48_000, forced, 3).token_ids
    assert runner.ready and runner.updates_precision == here.updates_precision
    # The live plots, built in the worker: the figures this process would build.
    assert runner.figures(local) == here.figures(local)


def test_the_worker_runs_below_the_server_and_says_when_audio_is_refused(runner):
    runner.update(speechlike(1.0), 16_000, [], 1)
    child = os.getpriority(os.PRIO_PROCESS, runner.pid)
    assert child == min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICE)
    assert runner.threads == worker_threads() == max(1, os.cpu_count() - 1)  # a core is left to the server
    with pytest.raises(AudioError, match="silent"):
        runner.update(np.zeros(16_000, dtype=np.float32), 16_000, [], 1)


def test_a_session_streams_through_the_worker(runner):
    session = LiveSession(runner, background=False)
    session.feed(speechlike(2.0), 16_000)
    assert session.step().result.token_ids
    assert session.finish().final and session.committed_seconds == pytest.approx(2.0)


def test_a_model_that_does_not_load_is_named_in_the_error():
    broken = ProcessRunner(tiny_loader, "no-such-model")
    try:
        with pytest.raises(WorkerStopped, match="could not load model 'no-such-model': unknown model"):
            broken.update(speechlike(1.0), 16_000, [], 1)
        assert not broken.alive and not broken.ready
    finally:
        broken.close()


def test_a_worker_that_dies_is_reported_and_started_again():
    first = shared_runner(tiny_loader, "tiny")
    first.update(speechlike(1.0), 16_000, [], 1)
    first.kill()
    with pytest.raises(WorkerStopped, match="worker process stopped"):
        first.update(speechlike(1.0), 16_000, [], 1)
    again = shared_runner(tiny_loader, "tiny")
    try:
        assert again is not first and again.update(speechlike(1.0), 16_000, [], 1).token_ids
        assert shared_runner(tiny_loader, "tiny") is again  # one per model, shared
    finally:
        again.close()


def test_the_worker_does_not_run_the_program_that_started_it_again(tmp_path):
    # An app module that loads its model when imported (as app.py does) must not be run again by
    # its worker: that would load the model twice and start workers from a worker.
    marker = tmp_path / "imported"
    script = tmp_path / "app_like.py"
    script.write_text(textwrap.dedent(f"""
        import pathlib, sys
        with open({str(marker)!r}, "a") as out:
            out.write("x")
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}, {str(ROOT / "tests" / "live")!r}]
        from test_worker import tiny_loader
        from tiny_audio.live.worker import ProcessRunner
        from tiny_models import speechlike
        if __name__ == "__main__":
            runner = ProcessRunner(tiny_loader, "tiny")
            print(runner.update(speechlike(1.0), 16_000, [], 2).model_name)
            runner.close()
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tiny" and marker.read_text() == "x"


def test_a_run_no_longer_wanted_is_cancelled_and_the_next_one_is_not(runner):
    from tiny_audio.pipeline.decoding import Cancelled

    audio = speechlike(1.5)
    asked = []
    with pytest.raises(Cancelled):
        runner.update(audio, 16_000, [], 40, should_stop=lambda: asked.append(1) or True)
    assert asked  # the parent asked while it waited
    # The cancellation named that request only: the same run asked again ends as it would have.
    here = ModelRunner(tiny_pipeline())
    again = runner.complete(audio, 16_000, [], 4, should_stop=lambda: False)
    assert again.token_ids == here.complete(audio, 16_000, [], 4).token_ids
