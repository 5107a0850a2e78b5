"""Real browser: `streamlit run app.py` on a loopback port, driven by Debian's headless Chromium.

Recipe from the tools' own documentation: Playwright pointed at /usr/bin/chromium
(never `playwright install`), flags that keep Chromium off the network, wait for real content.
Without Chromium the tests skip, unless MESHSIM_REQUIRE_BROWSER=1 makes that a failure.
Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import meshsim
from meshsim import viz
from meshsim.report import write_html_report

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_browser() -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium; `make test` installs it when root)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed in this environment (pip install playwright)"
    if reason:
        if os.environ.get("MESHSIM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MESHSIM_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    _require_browser()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    with open(log_path, "w") as log:
        # the venv's python runs streamlit, so the app imports this checkout's meshsim
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],  # no reloads mid-test while files change around us
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer /_stcore/health in 60 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_run_in_the_browser_draws_a_chart(browser, app_url):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1800})  # tall: Streamlit scrolls inside
    try:
        page.goto(app_url)
        page.get_by_text("meshsim what-if").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Run simulation").click()
        page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        page.get_by_text("browse p99 (ms)").first.wait_for(timeout=10_000)
        # plotly has drawn: the latency chart's SVG holds its line traces
        page.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for(timeout=20_000)
        assert page.locator(".js-plotly-plot").count() >= 5
        shot = ARTIFACTS / "app-run.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 20_000
    finally:
        page.close()


def test_html_report_opens_without_network(browser, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    results = meshsim.simulate(str(ROOT / "models" / "minimal.yaml"), executor="serial")
    path = write_html_report(results, tmp_path / "report.html")
    n_charts = len(viz.figures(results))
    page = browser.new_page(viewport={"width": 1280, "height": 4000})
    asked: list[str] = []
    errors: list[str] = []
    page.route("http*://**", lambda route: (asked.append(route.request.url), route.abort()))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(path.as_uri())
        page.locator(".js-plotly-plot").nth(n_charts - 1).wait_for(timeout=30_000)
        assert page.locator(".js-plotly-plot").count() == n_charts
        assert page.locator(".js-plotly-plot .main-svg").count() >= n_charts
        page.screenshot(path=str(ARTIFACTS / "report.png"))
    finally:
        page.close()
    assert asked == [], f"the report tried the network: {asked}"
    assert errors == []
