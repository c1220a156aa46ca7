"""The dashboard in a real browser: ``streamlit run`` on loopback, driven by Playwright and
Debian's chromium (``/usr/bin/chromium``; ``.ci/run`` installs it, nothing is downloaded).

Loads Explore, switches off an STRF branch, uploads a tracklet and a file that is not one, and
checks the page after each step, its layout measured in the page (frame strips in one row,
top-k captions of at most two lines with gaps between thumbnails, sidebar widgets that fit).
Screenshots go to ``tests/output/browser/`` (git-ignored), with the server's log; on a failure
the page at that moment is saved too and the log is printed.

The module is skipped where ``/usr/bin/chromium`` is absent. The first run on a fresh machine
also generates the demo world and embeds its gallery in the first page load (about a minute on
2 cores, then cached on disk, ``$STRF_CACHE``): the app's own cold start is part of the test.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(
        f"{CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tests" / "output" / "browser"
EXAMPLE_ZIP = ROOT / "sample_data" / "examples" / "misaligned.zip"
# Headless as root, on a machine without a network: no sandbox, no GPU, no background traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
START_TIMEOUT_S = 120  # the first start generates the demo world and embeds the gallery
STEP_TIMEOUT_MS = 90_000  # a branch set seen for the first time embeds the gallery once
FIRST_LOAD_TIMEOUT_MS = 300_000  # a test run alone starts the server cold (a loaded machine)
SUMMARY = "First true match:"  # each model column's first line, for labelled queries


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else "(no log)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> None:
    """End the server and everything it started (it leads its own process group)."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait_s)
            return


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "STRF_APP_PRECOMPUTE": "0",  # no background embedding of every branch set
        "STRF_TORCH_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "streamlit", "run", "app/main.py",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log = OUTPUT / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    running = Server(url, process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(f"streamlit exited ({process.returncode}):\n{running.log_text()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit not healthy after {START_TIMEOUT_S} s:\n{running.log_text()}"
                )
            time.sleep(0.5)
        yield running
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """A fresh page (a new Streamlit session: widgets at their defaults) on Explore."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.goto(server.url)
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@contextlib.contextmanager
def diagnosed(page: Page, server: Server, name: str) -> Iterator[None]:
    """On a failure: save the page as it is, print the server's log, and re-raise."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            screenshot(page, f"{name}-FAILED")
        print(f"--- streamlit log ({server.log}) ---\n{server.log_text()}")
        raise


# --------------------------------------------------------------------------- page helpers


def wait_idle(page: Page, timeout: float | None = None) -> None:
    """Wait until the script run is over: not running, no spinner, no stale element left."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app !== null
                && app.dataset.testScriptState !== 'running'
                && document.querySelector('[data-testid="stSpinner"]') === null
                && document.querySelector('[data-stale="true"]') === null;
        }""",
        timeout=timeout,
    )


def wait_images(page: Page, at_least: int) -> None:
    """Wait until at least ``at_least`` images are shown and every shown image is decoded."""
    page.wait_for_function(
        """(n) => {
            const images = [...document.querySelectorAll('[data-testid="stImage"] img')];
            return images.length >= n && images.every((i) => i.complete && i.naturalWidth > 0);
        }""",
        arg=at_least,
    )


def wait_columns(page: Page, summary: str = SUMMARY) -> None:
    """Both model columns rendered: their summaries, frame strips and top-k thumbnails."""
    page.get_by_text(summary).nth(1).wait_for()
    wait_idle(page)
    expect_count(page, summary, 2)
    wait_images(page, at_least=2 * 5 + 2)  # two rankings of >= 5 hits, the query, two strips


def expect_count(page: Page, text: str, count: int) -> None:
    found = page.get_by_text(text).count()
    assert found == count, f"{text!r} found {found} times, expected {count}"


LAYOUT = """() => {
    const box = (e) => e.getBoundingClientRect();
    const lines = (e) => Math.round(box(e).height / parseFloat(getComputedStyle(e).lineHeight));
    const strips = [], hits = [];
    for (const row of document.querySelectorAll('[data-testid="stHorizontalBlock"]')) {
        const images = [...row.querySelectorAll('[data-testid="stImage"]')].filter(
            (i) => i.closest('[data-testid="stHorizontalBlock"]') === row);
        if (!images.length) continue;
        const items = images.map((i) => {
            const caption = i.querySelector('[data-testid="stImageCaption"] p');
            const r = box(i.querySelector('img'));
            return {text: caption ? caption.innerText : '', lines: caption ? lines(caption) : 0,
                    top: r.top, left: r.left, right: r.right};
        });
        (items.every((i) => i.text.startsWith('t=')) ? strips : hits).push(items);
    }
    const sidebar = document.querySelector('[data-testid="stSidebar"]');
    const groups = [...sidebar.querySelectorAll('[data-testid="stRadioGroup"]')];
    const inputs = [...sidebar.querySelectorAll('[data-testid="stSelectbox"] input')];
    return {
        strips, hits,
        radios: groups.map((g) => [...g.querySelectorAll('[data-testid="stRadioOption"] p')].map(
            (p) => ({text: p.innerText, lines: lines(p), top: Math.round(box(p).top)}))),
        selects: inputs.map((i) => ({text: i.value, fits: i.scrollWidth <= i.clientWidth})),
    };
}"""


def check_layout(page: Page, strips: int) -> None:
    """What the review found broken, measured: every frame strip is one row of t= labelled
    frames; each top-k caption is at most two lines and thumbnails keep a gap; the sidebar's
    radio options take one line each and its selectboxes show their whole value."""
    layout = page.evaluate(LAYOUT)
    assert len(layout["strips"]) == strips, layout["strips"]
    for strip in layout["strips"]:
        assert max(f["top"] for f in strip) - min(f["top"] for f in strip) < 1, strip
    assert layout["hits"], "no top-k thumbnails"
    for row in layout["hits"]:
        assert all(hit["lines"] <= 2 for hit in row), row
        gaps = [b["left"] - a["right"] for a, b in itertools.pairwise(row) if a["top"] == b["top"]]
        assert gaps and all(gap >= 8 for gap in gaps), (gaps, row)
    for options in layout["radios"]:  # one line each, in one row or one option a row
        assert all(option["lines"] == 1 for option in options), options
        assert len({option["top"] for option in options}) in (1, len(options)), options
    assert all(select["fits"] for select in layout["selects"]), layout["selects"]


def no_exception(page: Page) -> None:
    """No Streamlit exception box and no traceback anywhere in the page."""
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in page.inner_text("body")


def screenshot(page: Page, name: str) -> Path:
    """The whole page (Streamlit scrolls inside its own container: the viewport is grown)."""
    height = page.evaluate(
        """() => {
            const parts = ['stMainBlockContainer', 'stSidebarContent'].map(
                (id) => document.querySelector(`[data-testid="${id}"]`));
            return Math.max(...parts.filter(Boolean).map((e) => e.scrollHeight + 80));
        }"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})
    try:
        page.wait_for_timeout(300)  # layout after the resize
        path = OUTPUT / f"{name}.png"
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(VIEWPORT)
    return path


def choose_upload(page: Page) -> None:
    page.get_by_role("radio", name="Upload").check(force=True)
    page.get_by_text("Nothing uploaded yet.").wait_for()
    wait_idle(page)


def upload(page: Page, files) -> None:
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(files)


# --------------------------------------------------------------------------- the tests


def test_explore_and_branch_toggle(page: Page, server: Server) -> None:
    with diagnosed(page, server, "explore"):
        page.get_by_role("heading", name="Explore").wait_for()
        wait_columns(page)
        page.get_by_text("STRF with all four branches").wait_for()
        for name in ("baseline", "strf"):
            assert page.get_by_role("heading", name=name, exact=True).count() == 1
        no_exception(page)
        screenshot(page, "01-explore")
        check_layout(page, strips=5)  # the query, then per model: the query and gallery maps

    with diagnosed(page, server, "branch-off"):
        toggle = page.get_by_role("switch", name="spatial fine")
        assert toggle.is_checked()
        toggle.click(force=True)  # the input is visually hidden behind its styled switch
        page.get_by_text("STRF with temporal dynamic, temporal static, spatial coarse").wait_for()
        wait_columns(page)
        assert not toggle.is_checked()
        expect_count(page, "STRF with all four branches", 0)
        expect_count(page, "no STRF", 1)  # the baseline's caption, unchanged
        no_exception(page)
        screenshot(page, "02-explore-spatial-fine-off")


def test_upload_tracklet(page: Page, server: Server) -> None:
    with diagnosed(page, server, "upload"):
        wait_columns(page)  # the default sample query first
        choose_upload(page)
        expect_count(page, SUMMARY, 0)  # no query: no columns
        upload(page, EXAMPLE_ZIP)
        # MARS-style names in the zip (PPPPCcTttttFfff.jpg) give the identity and the camera.
        page.get_by_text(f"{EXAMPLE_ZIP.name} (").wait_for()
        first = sorted(zipfile.ZipFile(EXAMPLE_ZIP).namelist())[0]
        page.get_by_text(f"id {int(first[:4])}, camera {int(first[5])}").first.wait_for()
        wait_columns(page)
        no_exception(page)
        screenshot(page, "03-upload-misaligned-zip")
        check_layout(page, strips=5)  # 25 frames, thinned to fit


def test_bad_upload_shows_message(page: Page, server: Server) -> None:
    with diagnosed(page, server, "bad-upload"):
        wait_columns(page)
        choose_upload(page)
        upload(
            page,
            {
                "name": "not_a_tracklet.zip",
                "mimeType": "application/zip",
                "buffer": b"this is a text file, not a zip of frames\n",
            },
        )
        alert = page.get_by_text("This upload cannot be used as a tracklet")
        alert.wait_for()
        wait_idle(page)
        assert "not_a_tracklet.zip" in alert.inner_text()
        assert page.locator('[data-testid="stAlert"]').count() == 1  # the error, nothing more
        expect_count(page, SUMMARY, 0)
        no_exception(page)
        screenshot(page, "04-bad-upload")


# Plotly binds each marker's data to its SVG element (d3): the point's index in its trace, and
# through the trace group the trace itself, with the customdata the app gave each point.
POINTS = """(chart) => {
    const points = [...chart.querySelectorAll('.scatterlayer .trace .point')];
    return points.map((p) => {
        const trace = p.closest('.trace').__data__[0].trace;
        const r = p.getBoundingClientRect();
        return {custom: (trace.customdata || [])[p.__data__.i] || null,
                x: r.left + r.width / 2, y: r.top + r.height / 2};
    }).filter((p) => p.custom !== null);
}"""


def chart_points(page: Page, index: int) -> list[dict]:
    """The clickable points of the ``index``-th plotly chart: customdata and centre."""
    chart = page.locator('[data-testid="stPlotlyChart"]').nth(index)
    chart.locator(".scatterlayer .point").first.wait_for()
    return chart.evaluate(POINTS)


def test_differ_plot_click_opens_that_query(page: Page, server: Server) -> None:
    with diagnosed(page, server, "differ"):
        page.get_by_text("Where do they differ?").wait_for(timeout=FIRST_LOAD_TIMEOUT_MS)
        wait_columns(page)
        opening = page.get_by_text("The page opens on this query")
        opening.wait_for()
        screenshot(page, "05-explore-opening-query")
        points = chart_points(page, 0)
        shown = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input')
        current = int(shown.last.input_value().split(" ")[0][1:])
        target = next(p for p in points if p["custom"][0] != current)
        page.mouse.click(target["x"], target["y"])
        index = target["custom"][0]
        page.get_by_text(f"#{index}: id ").wait_for()  # the query's title in the page
        wait_columns(page)
        assert shown.last.input_value().startswith(f"#{index} · id")
        expect_count(page, "The page opens on this query", 0)  # the rule is not claimed for it
        no_exception(page)
        screenshot(page, "06-explore-clicked-query")


def _inside_strf(page: Page) -> None:
    page.get_by_role("link", name="Inside STRF").click(timeout=FIRST_LOAD_TIMEOUT_MS)
    page.get_by_role("heading", name="Inside STRF").wait_for(timeout=FIRST_LOAD_TIMEOUT_MS)
    page.get_by_text("position row").wait_for(timeout=FIRST_LOAD_TIMEOUT_MS)
    wait_idle(page, timeout=FIRST_LOAD_TIMEOUT_MS)


def slider_values(page: Page) -> list[int]:
    """The page's sliders' values, in page order (react-aria keeps them in range inputs)."""
    return [
        int(v)
        for v in page.locator('[data-testid="stSlider"] input[type="range"]').evaluate_all(
            "(inputs) => inputs.map((i) => i.value)"
        )
    ]


def test_inside_strf_click_selects_the_position(page: Page, server: Server) -> None:
    with diagnosed(page, server, "inside-click"):
        _inside_strf(page)
        picker = page.locator('[data-testid="stPlotlyChart"]').first
        assert picker.locator(".modebar").count() == 0  # no toolbar over the grid
        points = chart_points(page, 0)
        for row, col in (points[0]["custom"], points[-1]["custom"]):
            target = next(p for p in points if p["custom"] == [row, col])
            page.mouse.click(target["x"], target["y"])
            page.get_by_text(f"position row {row}, column {col}").wait_for()
            wait_idle(page)
            assert slider_values(page)[1:3] == [row, col]  # frame, row, column
            points = chart_points(page, 0)
        no_exception(page)
        screenshot(page, "07-inside-strf-clicked")


def test_inside_strf_non_local_unit_click_selects_the_position(page: Page, server: Server) -> None:
    """The unit choice: the shipped tiny non-local model; a click on its grid moves the
    position, the three frames' masks and the sliders together."""
    with diagnosed(page, server, "inside-nonlocal"):
        _inside_strf(page)
        sidebar = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')
        sidebar.filter(has_text="Model").click()
        page.get_by_role("option", name="P3D-C + non-local (tiny, 64x32)").click()
        page.get_by_text("in the frames around its own").wait_for(timeout=FIRST_LOAD_TIMEOUT_MS)
        wait_idle(page, timeout=FIRST_LOAD_TIMEOUT_MS)
        points = chart_points(page, 0)
        target = next(p for p in points if p["custom"] == [1, 3])
        page.mouse.click(target["x"], target["y"])
        page.get_by_text("where frame 0, row 1, column 3 draws from").wait_for()
        wait_idle(page)
        assert slider_values(page)[:3] == [0, 1, 3]  # frame, row, column
        no_exception(page)
        screenshot(page, "08-inside-nonlocal-clicked")


SWEEP_TIMEOUT_MS = 600_000  # 2 queries x 8 clips x 3 models on 2 loaded cores


def test_occlusion_sweep(page: Page, server: Server) -> None:
    """The lab opens on a clean query; a sweep over 2 clean queries runs with a progress bar
    and draws its three panels and its table."""
    with diagnosed(page, server, "occlusion-sweep"):
        page.get_by_role("link", name="Occlusion lab").click()
        page.get_by_role("heading", name="Occlusion lab").wait_for()
        page.get_by_text("the first clean query").first.wait_for()
        wait_columns(page, summary="Grad-CAM of the similarity to gallery tracklet")
        no_exception(page)
        page.get_by_role("tab", name="Sweep over clean queries").click()
        slider = page.locator('[data-testid="stSlider"]').filter(has_text="Clean queries")
        slider.get_by_role("slider").focus()
        page.keyboard.press("Home")  # the fewest queries: 2
        page.get_by_role("button", name="Run the sweep").click()
        page.get_by_text("Lines: the mean over the queries").wait_for(timeout=SWEEP_TIMEOUT_MS)
        wait_idle(page)
        panel = page.get_by_role("tabpanel", name="Sweep over clean queries")
        assert panel.locator(".js-plotly-plot").count() == 1
        assert panel.get_by_text("Rank of the first true match").count() >= 1
        assert panel.locator('[data-testid="stDataFrame"]').count() == 1
        no_exception(page)
        screenshot(page, "05-occlusion-sweep")
