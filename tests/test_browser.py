"""The served app in a real browser: upload a clip, transcribe it, and see every tab draw.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, or the path in ``$CHROMIUM``) against the app
launched in this process with the real nano model. Any console error or uncaught exception on the page
fails the test. Screenshots go to ``$PROJECTOR_LAB_SCREENSHOT`` (the first tab; the other tabs beside it,
suffixed with their name) or, by default, to pytest's temporary directory; their paths are printed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tiny_audio.examples import EXAMPLES_DIR

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

# Each tab after the first, with what it must show: plots (by elem_id) and text in other components.
TABS = {
    "Projector vs LLM": {"plots": ["overlay", "norms"], "text": {"gap": "RMS ratio"}},
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
    from tiny_audio.ui import ModelStore, build_demo

    store = ModelStore()
    store.get("nano")
    demo = build_demo(store)
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium (.ci/run does) or set $CHROMIUM")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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


def assert_plot_drawn(page, elem_id: str) -> None:
    assert comes_true(page, PLOT_DRAWN, elem_id), f"the plot #{elem_id} did not draw within {RENDER_TIMEOUT_MS} ms"


@pytest.mark.integration
def test_transcribe_in_the_browser_draws_every_tab(app_url, browser, screenshot_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    # Gradio logs warnings of its own; only errors count.
    page.on("console", lambda message: message.type == "error" and problems.append(
        f"console error: {message.text} (at {message.location.get('url')})"))
    page.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))
    try:
        page.goto(app_url)
        expect(page).to_have_title("Projector Lab")

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
        page.get_by_role("button", name="Compute", exact=True).click()
        expect(page.locator("#explore-rates")).to_contain_text("(custom)", timeout=RENDER_TIMEOUT_MS)
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
