"""The served app in a real browser: upload a clip, transcribe it, and see every tab draw; then speak
into the Live tab through a fake microphone.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, or the path in ``$CHROMIUM``) against the app
launched in this process with the real nano model. For the Live tab a second Chromium plays a WAV file as
its microphone. Any console error or uncaught exception on the page fails a test. Screenshots go to
``$PROJECTOR_LAB_SCREENSHOT`` (the first tab; the other tabs beside it, suffixed with their name) or, by
default, to pytest's temporary directory; their paths are printed.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tiny_audio.app.examples import EXAMPLES_DIR

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless and quiet: without the background-networking flags Chromium keeps calling home, and a closed
# network refuses each attempt.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CLIP = EXAMPLES_DIR / "fox_piper.wav"
TRANSCRIBE_TIMEOUT_MS = 60_000
RENDER_TIMEOUT_MS = 15_000

# Chromium plays this file, over and over, as the microphone, and grants access to it without asking.
# Any sample rate will do: the page receives it at the rate of its own audio pipeline.
LIVE_CLIP = EXAMPLES_DIR / "report_piper.wav"
FAKE_MICROPHONE_ARGS = [
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    f"--use-file-for-fake-audio-capture={LIVE_CLIP}",
]
# The first model run (the worker process may still be loading the model), or the final run after Stop.
LIVE_RUN_TIMEOUT_MS = 60_000
LIVE_UPDATE = re.compile(r"update \d+ · .* latency \d+ ms")

# Each tab after the first, with what it must show: plots (by elem_id) and text in other components.
TABS = {
    "Projector vs LLM": {"plots": ["agreement", "overlay", "norms"], "text": {"gap": "untrained (seed 0)"}},
    "Trace": {"plots": [], "text": {"trace": "post-norm"}},
    "Dimensions": {"plots": ["dims"], "text": {}},
    "Nearest tokens": {"plots": ["tokens"], "text": {}},
}

# The Plotly figure inside the component is visible, holds data, and has drawn it into its SVG.
PLOT_DRAWN = """id => {
    const plot = document.querySelector(`#${id} .js-plotly-plot`);
    return plot !== null && plot.offsetParent !== null && Array.isArray(plot.data) && plot.data.length > 0
        && plot.querySelector("svg.main-svg .trace, svg.main-svg .hm") !== null;
}"""

# The run has ended: a transcript, or an error toast instead.
TRANSCRIPT_OR_TOAST = """() => {
    const transcript = document.querySelector("#transcript textarea");
    return (transcript !== null && transcript.value.trim() !== "")
        || document.querySelector('[data-testid="toast-body"]') !== null;
}"""

STAGES_LOG_Y = "() => document.querySelector('#stages .js-plotly-plot')?.layout?.yaxis?.type === 'log'"


@pytest.fixture(scope="module")
def app_url():
    from tiny_audio.app.blocks import build_demo
    from tiny_audio.app.store import ModelStore

    store = ModelStore()
    store.get("nano")
    demo = build_demo(store)
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium (.ci/run does) or set $CHROMIUM")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright):
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def microphone_browser(playwright):
    """A Chromium whose microphone plays ``LIVE_CLIP``."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_MICROPHONE_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def screenshot_path(tmp_path) -> Path:
    path = Path(os.environ.get("PROJECTOR_LAB_SCREENSHOT") or tmp_path / "projector_lab.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def tab_screenshot_path(first: Path, tab: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "_", tab.lower()).strip("_")
    return first.with_name(f"{first.stem}-{slug}{first.suffix}")


def comes_true(page, script: str, arg=None, timeout_ms: int = RENDER_TIMEOUT_MS) -> bool:
    """Whether the page-side ``script`` returns something truthy within the timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(script, arg=arg, timeout=timeout_ms)
    except PlaywrightTimeout:
        return False
    return True


def assert_plot_drawn(page, elem_id: str, timeout_ms: int = RENDER_TIMEOUT_MS) -> None:
    assert comes_true(page, PLOT_DRAWN, elem_id, timeout_ms), f"the plot #{elem_id} did not draw within {timeout_ms} ms"


def watch_for_problems(page) -> list[str]:
    """The page's console errors and uncaught exceptions, as they come."""
    problems: list[str] = []
    # Gradio logs warnings of its own; only errors count.
    page.on("console", lambda message: message.type == "error" and problems.append(
        f"console error: {message.text} (at {message.location.get('url')})"))
    page.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))
    return problems


@pytest.mark.integration
def test_transcribe_in_the_browser_draws_every_tab(app_url, browser, screenshot_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = watch_for_problems(page)
    try:
        page.goto(app_url)
        expect(page).to_have_title("Projector Lab")
        # nano's default decoding is its beam search: offered once, and chosen.
        expect(page.locator("#decoding input[type=radio]")).to_have_count(2, timeout=RENDER_TIMEOUT_MS)
        expect(page.locator("#decoding").get_by_label("beam search, 4 beams", exact=True)).to_be_checked()

        page.locator("#speech button[aria-label='Upload file']").click()
        page.locator("#speech input[type=file]").set_input_files(CLIP)
        # The player's controls appear once the upload has reached the server.
        expect(page.locator("#speech button[aria-label='Play']")).to_be_visible(timeout=RENDER_TIMEOUT_MS)

        page.locator("#transcribe").click()
        assert comes_true(page, TRANSCRIPT_OR_TOAST, timeout_ms=TRANSCRIBE_TIMEOUT_MS), (
            f"no transcript within {TRANSCRIBE_TIMEOUT_MS} ms")
        toasts = page.locator('[data-testid="toast-body"]')
        assert toasts.count() == 0, f"the app showed a message instead of a transcript: {toasts.all_inner_texts()}"
        transcript = page.locator("#transcript textarea").input_value()
        assert transcript.strip()
        print(f"transcript: {transcript!r}")

        expect(page.locator("#info")).to_contain_text("(beam search, 4 beams)")  # nano's default decoding
        expect(page.locator("#stats")).to_contain_text("encoder output")
        expect(page.locator("#stats")).to_contain_text("post-norm")
        expect(page.locator("#download a")).to_have_attribute("href", re.compile(r"/projector_lab_trace\.json$"))
        assert_plot_drawn(page, "stages")
        page.screenshot(path=screenshot_path, full_page=True)
        print(f"screenshot: {screenshot_path}")

        # A toggle redraws the histograms from the kept result, without a new run.
        page.get_by_label("log y", exact=True).check()
        assert comes_true(page, STAGES_LOG_Y), "ticking 'log y' did not switch the histograms to a log axis"
        assert_plot_drawn(page, "stages")

        for tab, shows in TABS.items():
            page.get_by_role("tab", name=tab, exact=True).click()
            for elem_id in shows["plots"]:
                assert_plot_drawn(page, elem_id)
            for elem_id, text in shows["text"].items():
                expect(page.locator(f"#{elem_id}")).to_contain_text(text)
            path = tab_screenshot_path(screenshot_path, tab)
            page.screenshot(path=path, full_page=True)
            print(f"screenshot: {path}")

        # Explore: the rates table fills from the latest clip, and the course's grid draws.
        page.get_by_role("tab", name="Explore", exact=True).click()
        # Filled from the first view with the course's clip; Compute redoes it for this one.
        expect(page.locator("#explore-rates-note")).to_contain_text("the course's example")
        expect(page.locator("#explore-rates")).to_contain_text("(custom)")
        page.get_by_role("button", name="Compute", exact=True).click()
        expect(page.locator("#explore-rates-note")).to_contain_text("This clip on the loaded model",
                                                                    timeout=RENDER_TIMEOUT_MS)
        page.get_by_text("5 · Stage by stage", exact=False).click()
        page.get_by_role("button", name="Draw for the latest clip").click()
        assert_plot_drawn(page, "explore-grid")
        path = tab_screenshot_path(screenshot_path, "Explore")
        page.screenshot(path=path, full_page=True)
        print(f"screenshot: {path}")
    finally:
        page.close()
        if problems:  # shown with the failure, whichever step failed first
            print("\n".join(problems))
    assert problems == [], "the page reported errors:\n" + "\n".join(problems)


def seconds_heard(status: str) -> float:
    """The live status says how much audio the server has received: '… 5.3 s heard …'."""
    return float(re.search(r"([\d.]+) s heard", status).group(1))


# Gradio's progress display inside the status, where a person can see it (its clock, "0.2s" or
# "processing | 0.4/0.3s"): Gradio keeps the tracker in the page at opacity 0 for a hidden
# progress, and innerText would read that too.
VISIBLE_PROGRESS = """() => [...document.querySelectorAll('#live-status .progress-text')].filter(text => {
    let opacity = 1;
    for (let e = text; e && e.id !== 'live-status'; e = e.parentElement) {
        const style = getComputedStyle(e);
        if (style.display === 'none' || style.visibility === 'hidden') return false;
        opacity *= Number(style.opacity);
    }
    const r = text.getBoundingClientRect();
    return opacity > 0.05 && r.width > 0 && r.height > 0 && text.textContent.trim() !== '';
}).map(text => text.textContent.trim())"""
LIVE_STREAM_S = 20  # long enough for many updates, commits at the clip's pauses, and a fair delivery figure


@pytest.mark.integration
def test_live_tab_transcribes_the_microphone(app_url, microphone_browser, screenshot_path):
    from playwright.sync_api import expect

    context = microphone_browser.new_context(permissions=["microphone"], viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch_for_problems(page)
    try:
        page.goto(app_url)
        expect(page).to_have_title("Projector Lab")
        page.get_by_role("tab", name="Live", exact=True).click()
        mic = page.locator("#live-mic")
        status = page.locator("#live-status [data-testid=markdown]")  # the status's own words
        transcript = page.locator("#live-transcript textarea")
        # One Record button on the page: the main input starts on upload, so only the Live one shows.
        records = page.get_by_role("button", name="Record", exact=True)
        assert [records.nth(i).is_visible() for i in range(records.count())].count(True) == 1

        mic.get_by_role("button", name="Record", exact=True).click()
        clicked = time.monotonic()
        expect(status).to_contain_text("recording", timeout=RENDER_TIMEOUT_MS)
        print(f"first status {time.monotonic() - clicked:.2f} s after Record")
        # Streamed chunks reach the server, and the speech in them sets off model runs.
        expect(status).to_contain_text("heard", timeout=RENDER_TIMEOUT_MS)
        heard_at_start, started = seconds_heard(status.inner_text()), time.monotonic()
        seen, latencies, first_words, leaked = [], [], None, []
        while time.monotonic() - started < LIVE_STREAM_S or not latencies:
            assert time.monotonic() - started < LIVE_RUN_TIMEOUT_MS / 1000 + LIVE_STREAM_S, "no update arrived"
            text = status.inner_text()
            seen.append(text)
            leaked += page.evaluate(VISIBLE_PROGRESS)
            latencies += [int(ms) for ms in re.findall(r"latency (\d+) ms", text)]
            if first_words is None and transcript.input_value().strip():
                first_words = time.monotonic() - clicked
            page.wait_for_timeout(100)
        assert any(LIVE_UPDATE.search(text) for text in seen)
        assert leaked == [], f"Gradio's progress clock showed in the status: {leaked[:3]}"
        # The worker builds an update's plots after its model run, which on a CPU without native
        # bfloat16, shared with this browser, can take as long as the first run.
        assert_plot_drawn(page, "live-stages", LIVE_RUN_TIMEOUT_MS)
        assert_plot_drawn(page, "live-overlay", LIVE_RUN_TIMEOUT_MS)
        print(f"live status: {status.inner_text()!r}")
        print(f"first words {first_words:.2f} s after Record; update latency as shown: median "
              f"{sorted(latencies)[len(latencies) // 2]} ms, max {max(latencies)} ms ({len(latencies)} readings)")

        streamed = time.monotonic() - started
        mic.get_by_role("button", name="Stop", exact=True).click()
        stopped = time.monotonic()
        expect(status).to_contain_text("final run", timeout=LIVE_RUN_TIMEOUT_MS)
        print(f"final transcript {time.monotonic() - stopped:.2f} s after Stop")
        # How much of the streamed audio reached the session: the model runs in its own process,
        # so the server takes every chunk whatever the model is doing.
        heard = seconds_heard(status.inner_text()) - heard_at_start
        print(f"{heard:.1f} s of audio heard in {streamed:.1f} s of streaming: {heard / streamed:.1%} delivered")
        short_delivery = heard < 0.98 * streamed  # the bar; a known defect while it is not met
        expect(transcript).to_have_value(re.compile(r"\S"))
        assert_plot_drawn(page, "live-stages")
        print(f"final status: {status.inner_text()!r}")
        print(f"live transcript: {transcript.input_value()!r}")

        path = tab_screenshot_path(screenshot_path, "Live")
        page.screenshot(path=path, full_page=True)
        print(f"screenshot: {path}")
    finally:
        context.close()
        if problems:
            print("\n".join(problems))
    assert problems == [], "the page reported errors:\n" + "\n".join(problems)
    # A known defect, open: on a 2-core machine less than 98 % of the streamed audio may reach the
    # session (measured 95-101 % here). Reported, not yet held to.
    if short_delivery:
        pytest.xfail(f"{heard:.1f} s heard in {streamed:.1f} s of streaming")


# Sizes a person uses: a laptop and a phone.
LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
# The tabs of the result, each with its plots.
RESULT_TABS = {"Stage histograms": ["stages"], **{tab: shows["plots"] for tab, shows in TABS.items()}}
DRAWN_WITHIN_S = 1.0

# Every pair of text boxes that overlap by more than a pixel, in the visible Plotly figures; text
# that lies outside its subplot's data area (cells scrolled out of view, clipped) is not seen.
TEXT_OVERLAPS = """() => {
    const overlaps = [];
    for (const plot of document.querySelectorAll(".js-plotly-plot")) {
        if (plot.offsetParent === null) continue;
        const boxes = [];
        for (const text of plot.querySelectorAll("svg.main-svg text")) {
            if (!text.textContent.trim()) continue;
            const r = text.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) continue;
            const subplot = text.closest("g.subplot");
            if (subplot && text.closest(".plot")) {
                const name = [...subplot.classList].find(c => c !== "subplot");
                const area = plot.querySelector(`.draglayer .${name} .nsewdrag`)?.getBoundingClientRect();
                const x = r.left + r.width / 2, y = r.top + r.height / 2;
                if (area && (x < area.left || x > area.right || y < area.top || y > area.bottom)) continue;
            }
            boxes.push({text: text.textContent, r});
        }
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i].r, b = boxes[j].r;
            const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
            const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
            if (w > 1 && h > 1) overlaps.push(`${plot.parentElement.closest("[id]")?.id}: "${boxes[i].text}" × "${boxes[j].text}"`);
        }
    }
    return overlaps;
}"""

# The run's result is on the page: transcript, verdict, and the first tab's figures drawn, nothing pending.
RESULT_DRAWN = """() => {
    const drawn = id => {
        const plot = document.querySelector(`#${id} .js-plotly-plot`);
        return plot !== null && plot.offsetParent !== null && plot.querySelector("svg.main-svg .trace") !== null;
    };
    const transcript = document.querySelector("#transcript textarea");
    const done = transcript && transcript.value.trim() !== "" && drawn("story") && drawn("stages")
        && document.querySelector("#verdict").innerText.includes("untrained")
        && document.querySelector(".pending") === null;
    return done ? Date.now() : false;
}"""

# The stage histograms' grid has two columns: its second panel ends at the figure's right edge.
STAGES_TWO_A_ROW = "id => document.querySelector(`#${id} .js-plotly-plot`)?.layout?.xaxis2?.domain[1] > 0.9"


def pick_example(page, words: str) -> None:
    """Click the example clip whose reference text holds ``words``; wait until it is the input."""
    from playwright.sync_api import expect

    page.locator("#examples").get_by_text(words, exact=False).first.click()
    expect(page.locator("#reference textarea")).to_have_value(re.compile(re.escape(words)), timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#speech button[aria-label='Play']")).to_be_visible(timeout=RENDER_TIMEOUT_MS)


def transcribe_greedy(page) -> float:
    """Press Transcribe (greedy: the quicker decoding); returns when the page first showed the whole
    result (seconds since the epoch, the page's clock), polled on every animation frame."""
    page.locator("#decoding").get_by_label("greedy", exact=True).check()
    page.locator("#transcribe").click()
    handle = page.wait_for_function(RESULT_DRAWN, timeout=TRANSCRIBE_TIMEOUT_MS, polling="raf")
    return handle.json_value() / 1000


class RunLog(logging.Handler):
    """When the server said it had the result (its log line, on this machine's clock)."""

    def __init__(self):
        super().__init__()
        self.finished: list[float] = []

    def emit(self, record):
        if record.getMessage().startswith("transcribed "):
            self.finished.append(record.created)


def open_tab(page, name: str) -> None:
    """Click a tab, through the "More tabs" menu where a narrow screen has moved it there."""
    tab = page.get_by_role("tab", name=name, exact=True)
    more = page.get_by_role("button", name="More tabs")
    tab.or_(more).first.wait_for(timeout=RENDER_TIMEOUT_MS)  # the tab bar has been laid out
    if tab.count() and tab.first.is_visible():
        tab.first.click()
        return
    more.click()
    page.locator(".overflow-dropdown button", has_text=name).first.click()


def inside_viewport(page, selector: str) -> dict:
    return page.evaluate("""([selector, height]) => {
        const r = document.querySelector(selector).getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, inside: r.top >= 0 && r.bottom <= height && r.height > 0};
    }""", [selector, page.viewport_size["height"]])


@pytest.mark.integration
def test_on_a_laptop_the_result_is_in_the_first_view_and_a_new_clip_or_an_error_clears_it(app_url, browser,
                                                                                          screenshot_path, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport=LAPTOP)
    problems = watch_for_problems(page)
    run_log = RunLog()
    logging.getLogger("tiny_audio.app").addHandler(run_log)
    logging.getLogger("tiny_audio.app").setLevel(logging.INFO)
    try:
        page.goto(app_url)
        pick_example(page, "quick brown fox")
        drawn_at = transcribe_greedy(page)
        assert run_log.finished, "the server logged no finished run"
        lag = drawn_at - run_log.finished[-1]
        print(f"page fully drawn {lag:.2f} s after the server had the result")
        assert lag <= DRAWN_WITHIN_S, f"drawn {lag:.2f} s after the server's result"

        page.evaluate("window.scrollTo(0, 0)")
        transcript, story = inside_viewport(page, "#transcript textarea"), inside_viewport(page, "#story .js-plotly-plot")
        print(f"transcript {transcript}, story plot {story}")
        assert transcript["inside"] and story["inside"], "the transcript or the first plot is below the fold"
        font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#transcript textarea')).fontSize)")
        assert font >= 20, f"the transcript is body-sized ({font} px)"
        expect(page.locator("#words")).to_contain_text("Word error rate")
        page.screenshot(path=tab_screenshot_path(screenshot_path, "laptop"))
        print(f"screenshot: {tab_screenshot_path(screenshot_path, 'laptop')}")

        pick_example(page, "lights in the kitchen")
        expect(page.locator("#transcript textarea")).to_have_value("", timeout=RENDER_TIMEOUT_MS)
        expect(page.locator("#story .js-plotly-plot svg.main-svg .trace")).to_have_count(0)
        expect(page.locator("#verdict")).to_have_text("")
        expect(page.locator("#words")).to_have_text("")
        page.screenshot(path=tab_screenshot_path(screenshot_path, "laptop-new-example"))

        # A run that fails leaves no earlier result behind: only its message.
        transcribe_greedy(page)
        silent = tmp_path / "silent.wav"
        sf.write(silent, np.zeros(32_000, dtype=np.float32), 16_000)
        page.locator("#speech button[aria-label='Clear']").click()
        page.locator("#speech input[type=file]").set_input_files(silent)
        expect(page.locator("#speech button[aria-label='Play']")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        page.locator("#transcribe").click()
        expect(page.locator('[data-testid="toast-body"]')).to_contain_text("silent", timeout=TRANSCRIBE_TIMEOUT_MS)
        expect(page.locator("#transcript textarea")).to_have_value("")
        expect(page.locator("#story .js-plotly-plot svg.main-svg .trace")).to_have_count(0)
        expect(page.locator("#verdict")).to_have_text("")
        # Gradio's status badge on an output (not the toast, which carries the message).
        badges = page.evaluate("[...document.querySelectorAll('.wrap > .error')].filter(e => e.offsetParent !== null)"
                               ".map(e => e.closest('[id]')?.id)")
        assert badges == ["transcript"], f"a failed run's Error badge is on {badges}, not on the transcript alone"
        page.wait_for_timeout(500)  # the toast fades in
        path = tab_screenshot_path(screenshot_path, "laptop-after-an-error")
        page.screenshot(path=path)
        print(f"screenshot: {path}")
    finally:
        logging.getLogger("tiny_audio.app").removeHandler(run_log)
        page.close()
        if problems:
            print("\n".join(problems))
    assert problems == [], "the page reported errors:\n" + "\n".join(problems)


@pytest.mark.integration
def test_on_a_phone_the_page_is_one_column_and_no_text_in_a_plot_overlaps(app_url, browser, screenshot_path):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    problems = watch_for_problems(page)
    try:
        page.goto(app_url)
        pick_example(page, "quick brown fox")
        transcribe_greedy(page)
        # The phone's figures are redrawn for its width after the run.
        assert comes_true(page, STAGES_TWO_A_ROW, "stages"), "the stage histograms were not redrawn two to a row"
        speech = page.locator("#speech").bounding_box()
        transcript = page.locator("#transcript").bounding_box()
        assert transcript["y"] > speech["y"] + speech["height"] - 1, "input and result are side by side on a phone"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways ({width} px)"
        found = {}
        page.screenshot(path=tab_screenshot_path(screenshot_path, "phone first view"))
        for tab, plot_ids in RESULT_TABS.items():
            open_tab(page, tab)
            for elem_id in plot_ids + (["story"] if tab == "Stage histograms" else []):
                assert_plot_drawn(page, elem_id)
            page.wait_for_timeout(300)  # Plotly's resize to the tab's width
            found[tab] = page.evaluate(TEXT_OVERLAPS)
            for elem_id in plot_ids:  # each figure as the phone shows it
                path = tab_screenshot_path(screenshot_path, f"phone {elem_id}")
                page.locator(f"#{elem_id}").screenshot(path=path)
                print(f"screenshot: {path}")
            print(f"{tab}: overlaps {found[tab][:5]}")
        assert all(not overlaps for overlaps in found.values()), f"text boxes overlap: {found}"
    finally:
        context.close()
        if problems:
            print("\n".join(problems))
    assert problems == [], "the page reported errors:\n" + "\n".join(problems)


TRAINING_PLOTS = ["training-loss", "training-story", "training-overlay", "training-stages", "training-tokens"]


@pytest.mark.integration
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_the_training_tab_steps_from_the_untrained_projector_to_the_shipped_weights(app_url, browser, screenshot_path,
                                                                                     size):
    from playwright.sync_api import expect

    from tiny_audio.pipeline.history import load_history

    history = load_history()  # assets/nano_history.jsonl, what the tab shows
    viewport = LAPTOP if size == "laptop" else PHONE
    context = browser.new_context(viewport=viewport, is_mobile=size == "phone", has_touch=size == "phone")
    page = context.new_page()
    problems = watch_for_problems(page)
    try:
        page.goto(app_url)
        open_tab(page, "Training")
        header, words = page.locator("#training-header"), page.locator("#training-words")
        expect(header).to_contain_text("exported weights", timeout=RENDER_TIMEOUT_MS)  # opens on the shipped step
        probe = history.probes[-1].name
        expect(words).to_contain_text(history.snapshots[-1].results[probe].text)
        for elem_id in TRAINING_PLOTS:
            assert_plot_drawn(page, elem_id)
        # Step 0: the untrained projector, its own (nonsense) transcript.
        number = page.locator("#training-step input[type=number]")
        number.fill("0")
        number.press("Enter")
        expect(header).to_contain_text("untrained projector", timeout=RENDER_TIMEOUT_MS)
        expect(words).to_contain_text(history.snapshots[0].results[probe].text[:30])
        for elem_id in TRAINING_PLOTS:
            assert_plot_drawn(page, elem_id)
        page.wait_for_timeout(300)
        overlaps = page.evaluate(TEXT_OVERLAPS)
        width = page.evaluate("document.documentElement.scrollWidth")
        path = tab_screenshot_path(screenshot_path, f"training {size}")
        page.screenshot(path=path, full_page=True)
        print(f"screenshot: {path}")
        for elem_id in TRAINING_PLOTS:  # each figure as this screen shows it
            path = tab_screenshot_path(screenshot_path, f"{size} {elem_id}")
            page.locator(f"#{elem_id}").screenshot(path=path)
            print(f"screenshot: {path}")
        if size == "phone":  # redrawn for the phone's width: the stage histograms two to a row
            assert comes_true(page, STAGES_TWO_A_ROW, "training-stages"), "the histograms kept the laptop's grid"
        print(f"{len(overlaps)} overlapping text boxes: {overlaps[:5]}")
        assert width <= viewport["width"], f"the page scrolls sideways ({width} px)"
        assert overlaps == [], f"text boxes overlap: {overlaps}"
    finally:
        context.close()
        if problems:
            print("\n".join(problems))
    assert problems == [], "the page reported errors:\n" + "\n".join(problems)


# In the dark theme: each visible figure's background, where it is not transparent, and each
# piece of its text that is dark (luminance under 0.5) on the dark page.
DARK_PROBLEMS = """() => {
    const parts = c => (c.match(/[\\d.]+/g) || []).map(Number);
    const luminance = c => { const [r, g, b] = parts(c); return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
    const problems = [];
    for (const plot of document.querySelectorAll(".js-plotly-plot")) {
        if (plot.offsetParent === null) continue;
        const id = plot.parentElement.closest("[id]")?.id;
        for (const bg of plot.querySelectorAll("svg.main-svg rect.bg")) {
            const style = getComputedStyle(bg), rgba = parts(style.fill);  // Plotly sets the alpha as fill-opacity
            const alpha = Number(style.fillOpacity) * (rgba.length > 3 ? rgba[3] : 1);
            if (style.fill !== "none" && alpha > 0) problems.push(`${id}: background ${style.fill} × ${alpha}`);
        }
        for (const text of plot.querySelectorAll("svg.main-svg text")) {
            if (!text.textContent.trim() || text.closest(".hm, .trace, .annotation")) continue;  // inside the data's own colours
            const fill = getComputedStyle(text).fill;
            if (luminance(fill) < 0.5) problems.push(`${id}: "${text.textContent.slice(0, 30)}" in ${fill}`);
        }
    }
    return problems;
}"""


@pytest.mark.integration
def test_in_the_dark_theme_the_figures_take_the_page_s_colours(app_url, browser, screenshot_path):
    page = browser.new_page(viewport=LAPTOP)
    problems = watch_for_problems(page)
    try:
        page.goto(app_url + "?__theme=dark")
        assert comes_true(page, "() => document.body.classList.contains('dark')"), "the page did not go dark"
        open_tab(page, "Training")  # five figures, drawn with the page
        for elem_id in TRAINING_PLOTS:
            assert_plot_drawn(page, elem_id)
        found = page.evaluate(DARK_PROBLEMS)
        path = tab_screenshot_path(screenshot_path, "training dark")
        page.screenshot(path=path, full_page=True)
        print(f"screenshot: {path}\n{len(found)} problems: {found[:40]}")
        assert found == [], f"figures that do not follow the dark theme: {found}"
    finally:
        page.close()
    assert problems == [], "the page reported errors:\n" + "\n".join(problems)
