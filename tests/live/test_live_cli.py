"""``python -m tiny_audio.live``: device choice, the no-PortAudio path, the file source, the HTML page."""

import os
import queue
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_models import speechlike

from tiny_audio.live import cli as live
from tiny_audio.live import devices as audio_devices
from tiny_audio.live import display as live_display
from tiny_audio.live.streaming import LiveSession
from tiny_audio.paths import ROOT


def device(index, name, inputs, outputs, rate=44100.0, hostapi=0):
    """One entry as ``sounddevice.query_devices()`` gives it."""
    return {
        "name": name,
        "index": index,
        "hostapi": hostapi,
        "max_input_channels": inputs,
        "max_output_channels": outputs,
        "default_low_input_latency": 0.005804988662131519 if inputs else -1.0,
        "default_low_output_latency": 0.005804988662131519 if outputs else -1.0,
        "default_high_input_latency": 0.034829931972789115 if inputs else -1.0,
        "default_high_output_latency": 0.034829931972789115 if outputs else -1.0,
        "default_samplerate": rate,
    }


# A laptop under ALSA with a USB microphone plugged in.
LAPTOP = [
    device(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 2),
    device(1, "HDA Intel PCH: HDMI 0 (hw:0,3)", 0, 8),
    device(2, "USB PnP Sound Device: Audio (hw:1,0)", 1, 0, rate=48000.0),
    device(3, "pulse", 32, 32),
    device(4, "default", 32, 32),
]
# A server: HDMI outputs only.
HEADLESS = [device(0, "HDA NVidia: HDMI 0 (hw:0,3)", 0, 8), device(1, "HDA NVidia: HDMI 1 (hw:0,7)", 0, 8)]


@pytest.fixture(scope="module")
def update(tiny_model):
    session = LiveSession(tiny_model, background=False)
    session.feed(speechlike(2.0), 16_000)
    return session.step()


# ----- choosing the input device -------------------------------------------------------------


def test_no_input_device_says_there_is_none():
    for devices, seen in ((HEADLESS, "only 2 output device(s)"), ([], "no audio device at all")):
        for requested in (None, "0", "HDMI"):
            with pytest.raises(audio_devices.DeviceError) as error:
                audio_devices.choose_input_device(devices, requested)
            assert str(error.value) == f"no audio input device found (PortAudio sees {seen})"


def test_a_device_is_found_by_part_of_its_name_or_its_index():
    assert audio_devices.choose_input_device(LAPTOP, "usb pnp") == 2
    assert audio_devices.choose_input_device(LAPTOP, "PULSE") == 3
    assert audio_devices.choose_input_device(LAPTOP, "default") == 4  # exact name wins over longer matches
    assert audio_devices.choose_input_device(LAPTOP, "0") == 0
    assert audio_devices.choose_input_device(LAPTOP, None, default=2) == 2
    assert audio_devices.choose_input_device(LAPTOP, None, default=None) == 0
    assert audio_devices.choose_input_device(LAPTOP, None, default=1) == 0  # an output-only default is no input


def test_an_unknown_device_lists_the_input_devices():
    with pytest.raises(audio_devices.DeviceError) as error:
        audio_devices.choose_input_device(LAPTOP, "Blue Yeti")
    message = str(error.value)
    assert "'Blue Yeti'" in message
    for index, name in ((0, "ALC3246 Analog"), (2, "USB PnP"), (3, "pulse"), (4, "default")):
        assert f"{index} '" in message and name in message
    assert "HDMI" not in message  # an output can not be recorded from
    with pytest.raises(audio_devices.DeviceError, match="no input device with index 1; input devices: 0 "):
        audio_devices.choose_input_device(LAPTOP, "1")
    with pytest.raises(audio_devices.DeviceError, match="ambiguous: it matches 0 .*, 2 "):
        audio_devices.choose_input_device(LAPTOP, "hw:")
    assert audio_devices.choose_input_device(LAPTOP, "HDA Intel") == 0  # the HDMI namesake has no input


def test_a_missing_device_ends_the_command_with_status_2_before_loading_a_model(monkeypatch, capsys):
    class FakeSoundDevice:  # PortAudio present, as sounddevice reports it
        class PortAudioError(Exception):
            pass

        class default:
            device = [-1, -1]

        @staticmethod
        def query_devices():
            return HEADLESS

    monkeypatch.setattr(live, "import_sounddevice", lambda: FakeSoundDevice)
    monkeypatch.setattr("tiny_audio.loading.load.load_model", lambda *a, **k: pytest.fail("loaded a model"))
    assert live.main([]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: no audio input device found (PortAudio sees only 2 output device(s))"
    )
    FakeSoundDevice.query_devices = staticmethod(lambda: LAPTOP)
    assert live.main(["--device", "yeti"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no input device matches 'yeti'; input devices: 0 'HDA Intel PCH" in err


# ----- sounddevice and PortAudio -------------------------------------------------------------


def test_without_sounddevice_the_fix_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # makes `import sounddevice` raise ImportError
    with pytest.raises(audio_devices.DeviceError, match="pip install sounddevice"):
        audio_devices.import_sounddevice()


# sounddevice finds PortAudio with ctypes.util.find_library (Linux wheels bundle none); hiding it
# there gives, on any machine, what one without libportaudio2 sees (CI's and this project's).
HIDE_PORTAUDIO = ("import ctypes.util; find = ctypes.util.find_library; "
                  "ctypes.util.find_library = lambda name: None if 'portaudio' in name else find(name); ")


def test_without_portaudio_the_command_names_libportaudio2_and_exits_2():
    # The sounddevice wheel is installed but finds no PortAudio library: its import raises OSError.
    check = subprocess.run([sys.executable, "-c", HIDE_PORTAUDIO + "import sounddevice"], capture_output=True, text=True)
    assert "OSError: PortAudio library not found" in check.stderr, check.stderr

    command = HIDE_PORTAUDIO + "import runpy; runpy.run_module('tiny_audio.live.cli', run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", command], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "sudo apt-get install libportaudio2" in lines[0], done.stderr


def test_the_web_app_never_imports_sounddevice():
    code = (
        "import sys, tiny_audio.live.cli, tiny_audio.app.blocks as ui, tiny_audio.app.store as store; ui.build_demo(store.ModelStore()); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sounddevice', '_sounddevice')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


# ----- the file source and the loop ----------------------------------------------------------


def test_a_file_plays_in_blocks_at_its_pace_and_ends():
    samples = np.arange(16_000, dtype=np.float32) / 16_000  # 1 s
    blocks = queue.Queue()
    start = time.perf_counter()
    source = live.FileSource(samples, blocks, speed=4.0)
    source.start()
    received = []
    while (block := blocks.get(timeout=5)) is not live.END:
        received.append(block)
    elapsed = time.perf_counter() - start
    assert [b.size for b in received] == [1600] * 10
    np.testing.assert_array_equal(np.concatenate(received), samples)
    assert 0.24 <= elapsed < 3.0  # 1 s of audio at 4× (paced, not as fast as it can; slack for a busy machine)


def test_ctrl_c_ends_with_a_final_run_and_everything_heard_committed(tiny_model):
    samples = speechlike(3.0)
    blocks = queue.Queue()
    session = LiveSession(tiny_model)
    source = live.FileSource(samples, blocks, speed=2.0)
    source.start()
    seen = []

    def on_update(update):
        seen.append(update)
        raise KeyboardInterrupt  # the person presses Ctrl-C as the first update shows

    final = live.run(session, blocks, source, on_update=on_update)
    assert len(seen) == 1 and final.final
    assert 0 < session.heard_seconds < 3.0
    assert final.committed_seconds == pytest.approx(session.heard_seconds)  # the blocks already recorded too
    assert final.text == session.committed_text and session.window.size == 0


def test_the_loop_feeds_the_whole_file_and_ends_with_all_of_it_committed(tiny_model):
    samples = speechlike(2.0)
    blocks = queue.Queue()
    session = LiveSession(tiny_model)
    updates = []
    source = live.FileSource(samples, blocks, speed=4.0)
    source.start()
    final = live.run(session, blocks, source, on_update=updates.append)
    assert final.final and session.heard_seconds == pytest.approx(2.0)
    assert final.committed_seconds == pytest.approx(2.0) and final.text == session.committed_text
    assert all(u is not None and not u.final for u in updates)


# ----- terminal lines and the HTML page ------------------------------------------------------


def test_stage_line_abbreviates_and_keeps_the_ends_when_narrow(update):
    full = live_display.stage_line(update)
    assert full.startswith("rms/std  enc ") and " · stack " in full and " · post " in full and " · gen " in full
    rms = update.result.stages[0].rms
    assert f"enc {rms:.3g}/" in full
    narrow = live_display.stage_line(update, width=60)
    assert len(narrow) <= 60 and narrow.startswith("rms/std  enc ") and " · post " in narrow
    assert " · stack " not in narrow


def test_html_page_is_replaced_atomically_with_both_figures(update, tmp_path, monkeypatch):
    page = tmp_path / "live.html"
    page.write_text("the previous page")
    renames = []
    real_replace = os.replace

    def replace(src, dst):
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    live_display.write_html(update, page, heard_seconds=2.0)

    [(src, dst)] = renames
    assert dst == page and src.parent == page.parent and src != page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.html"]  # no temp file left behind
    text = page.read_text()
    assert '<meta http-equiv="refresh" content="2">' in text
    assert text.count("Plotly.newPlot(") == 2
    assert "plotly.js v" in text.lower() or len(text) > 1_000_000  # the library itself, inline: works offline
    assert "Values at each stage of the pipeline" in text and "Does the projector speak the LLM" in text
    assert "2.0 s heard" in text


def test_a_failed_html_write_keeps_the_previous_page(update, tmp_path, monkeypatch):
    page = tmp_path / "live.html"
    page.write_text("the previous page")
    # A page that can not be encoded fails half-way through writing the temp file.
    monkeypatch.setattr(live_display, "render_html", lambda *a, **k: "<html>" + "\ud800")
    with pytest.raises(UnicodeEncodeError):
        live_display.write_html(update, page)
    assert page.read_text() == "the previous page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.html"]


# ----- the whole command on the nano model ---------------------------------------------------


@pytest.mark.integration
def test_live_command_on_a_clip_prints_its_transcript():
    from tiny_audio.app.examples import example_clips
    from tiny_audio.training.evaluate import normaliser

    wav, reference = example_clips()[0]
    done = subprocess.run(
        [sys.executable, "-m", "tiny_audio.live.cli", "--input-file", wav, "--speed", "8"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.count("\n") == 1  # stdout is a pipe: only the final transcript
    normalise = normaliser()
    assert normalise(done.stdout) == normalise(reference)
