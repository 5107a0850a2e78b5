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


# ----- helpers: Streamlit widgets as a user reaches them


def _settle(page) -> None:
    """Wait until Streamlit has finished the rerun an interaction started.

    While a rerun runs, the status widget shows and last run's elements stay on the page
    marked ``data-stale``; both are gone when the page shows the new run. Checks after this
    still wait (``expect``, a minute): a busy machine can start a rerun late.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    page.wait_for_timeout(1_000)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=120_000)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=120_000)


def _open(browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1800})  # tall: Streamlit scrolls inside
    return page


def _start(page, url: str) -> None:
    page.goto(url)
    page.get_by_text("meshsim what-if").first.wait_for(timeout=60_000)
    _settle(page)


def _pick(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    _settle(page)


def _type(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    _settle(page)


def _expand(page, title: str) -> None:
    page.locator('[data-testid="stExpander"] summary').filter(has_text=title).click()
    page.wait_for_timeout(300)


def _changes(page) -> str:
    return page.get_by_text("change(s) from").inner_text()


def _run_and_read(page, workload: str, expected_p99: str) -> None:
    """Press Run; the headline p99 must become the library's number for the same scenario."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Run simulation").click()
    value = (
        page.locator('[data-testid="stMetric"]')
        .filter(has_text=f"{workload} p99")
        .locator('[data-testid="stMetricValue"]')
    )
    expect(value).to_have_text(expected_p99, timeout=120_000)
    _settle(page)


def _library_p99(scenario) -> str:
    """The p99 meshsim.simulate gives (byte-identical on any executor), as the UI prints it."""
    from meshsim.results import format_metric

    data = meshsim.simulate(scenario, executor="serial").to_dict()
    return format_metric(next(iter(data["workloads"].values()))["latency_ms"]["p99"], "ms")


def _shot(page, name: str) -> None:
    """Screenshot once every chart on the page has drawn its SVG."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    charts = page.locator(".js-plotly-plot")
    for i in range(charts.count()):
        if charts.nth(i).is_visible():
            charts.nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / name))


# ----- the app


def test_model_switch_shows_and_runs_the_new_files_values(browser, app_url):
    from playwright.sync_api import expect

    page = _open(browser)
    try:
        _start(page, app_url)
        _pick(page, "Model (models/)", "retry-storm.yaml")
        expect(page.get_by_label("users: rate (requests/s)", exact=True)).to_have_value("100.00")
        _type(page, "users: rate (requests/s)", "150")
        assert _changes(page).startswith("1 change(s)")
        # the file says 40/s with a spike at 20 s: that is what the boxes show and what runs
        _pick(page, "Model (models/)", "metastable.yaml")
        expect(page.get_by_label("users: rate (requests/s)", exact=True)).to_have_value("40.00")
        expect(page.get_by_label("users: rate changes (time: rate, ...)", exact=True)).to_have_value(
            "20s: 80/s, 25s: 40/s"
        )
        expect(page.get_by_label("simulated duration (s, after warm-up)", exact=True)).to_have_value("90.00")
        assert _changes(page).startswith("0 change(s) from models/metastable.yaml")
        _run_and_read(page, "users", _library_p99(ROOT / "models" / "metastable.yaml"))
        assert _changes(page).startswith("0 change(s)")  # running changed nothing
        _shot(page, "app-model-switch-run.png")
        # replicas and concurrency too (multicloud-retail's frontend has 2 workers, canary's 32)
        _pick(page, "Model (models/)", "multicloud-retail.yaml")
        _expand(page, "Replicas and concurrency")
        expect(page.get_by_label("concurrency per replica (workers)", exact=True)).to_have_value("2")
        _pick(page, "Model (models/)", "canary.yaml")
        _expand(page, "Replicas and concurrency")
        expect(page.get_by_label("concurrency per replica (workers)", exact=True)).to_have_value("32")
        expect(page.get_by_label("replicas in aws/us-east-1/a", exact=True)).to_have_value("2")
        expect(page.get_by_label("replicas in aws/us-east-1/b", exact=True)).to_have_value("2")
        assert _changes(page).startswith("0 change(s) from models/canary.yaml")
        _shot(page, "app-model-switch-canary.png")
    finally:
        page.close()


def test_reset_puts_every_box_back_and_the_run_uses_the_file(browser, app_url):
    from playwright.sync_api import expect

    page = _open(browser)
    try:
        _start(page, app_url)
        _pick(page, "Model (models/)", "minimal.yaml")
        _type(page, "users: rate (requests/s)", "60")
        _type(page, "simulated duration (s, after warm-up)", "30")
        _expand(page, "Replicas and concurrency")
        _type(page, "concurrency per replica (workers)", "3")
        assert _changes(page).startswith("3 change(s)")
        page.get_by_role("button", name="Reset knobs").click()
        _settle(page)
        expect(page.get_by_label("users: rate (requests/s)", exact=True)).to_have_value("80.00")
        expect(page.get_by_label("simulated duration (s, after warm-up)", exact=True)).to_have_value("120.00")
        _expand(page, "Replicas and concurrency")
        expect(page.get_by_label("concurrency per replica (workers)", exact=True)).to_have_value("1")
        assert _changes(page).startswith("0 change(s)")
        _run_and_read(page, "users", _library_p99(ROOT / "models" / "minimal.yaml"))
        _shot(page, "app-reset-run.png")
    finally:
        page.close()


UPLOAD = """name: uploaded
seed: 5
duration: 20s
services:
  api: {replicas: 2, concurrency: 4, service_time: {dist: exponential, mean: 20ms}}
workload:
  - {name: shoppers, entry: api, rate: 50/s}
slos:
  - {name: shoppers-p99, workload: shoppers, metric: latency_p99, max: 300ms}
"""


def test_upload_edit_and_download_the_yaml_that_runs(browser, app_url, tmp_path):
    from playwright.sync_api import expect

    from meshsim.experiments import overridden_mapping, parse_override
    from meshsim.yamlio import read_yaml

    path = tmp_path / "uploaded.yaml"
    path.write_text(UPLOAD, encoding="utf-8")
    page = _open(browser)
    try:
        _start(page, app_url)
        page.get_by_text("upload a file").click()
        _settle(page)
        page.locator('input[type="file"]').set_input_files(str(path))
        _settle(page)
        expect(page.get_by_label("shoppers: rate (requests/s)", exact=True)).to_have_value("50.00")
        _type(page, "shoppers: rate (requests/s)", "65")
        _expand(page, "Timeouts, retries, balancing")
        _type(page, "route timeout (ms, 0 = none)", "250")
        shown = page.locator('[data-testid="stCode"]').first.inner_text().strip().splitlines()
        assert shown == ["workload.0.rate=65/s", "policies.api.timeout=250ms"]
        with page.expect_download() as info:
            page.get_by_role("button", name="Download scenario (YAML)").click()
        downloaded = read_yaml(Path(info.value.path()).read_text(encoding="utf-8"))
        # the file plus exactly the edits the page lists, nothing else
        assert downloaded == overridden_mapping(UPLOAD, [parse_override(line) for line in shown])
        expected = read_yaml(UPLOAD)
        expected["workload"][0]["rate"] = "65/s"
        expected["policies"] = {"api": {"timeout": "250ms"}}
        assert downloaded == expected
        # and that file is what runs
        _run_and_read(page, "shoppers", _library_p99(downloaded))
        _shot(page, "app-upload-run.png")
        # an upload may not read the host's files through mesh.import
        sneaky = tmp_path / "sneaky.yaml"
        sneaky.write_text(UPLOAD + "mesh:\n  import:\n    - {format: istio, path: /etc/}\n", encoding="utf-8")
        page.locator('input[type="file"]').set_input_files(str(sneaky))
        _settle(page)
        expect(page.locator('[data-testid="stAlert"]').filter(has_text="sneaky.yaml")).to_be_visible()
        assert page.get_by_role("button", name="Run simulation").count() == 0
    finally:
        page.close()


_NODE_XY = """gd => {
    const t = gd._fullData.find(d => d.name === "services");
    const i = t.customdata.indexOf(NAME);
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    return [xa._offset + xa.l2p(t.x[i]), ya._offset + ya.l2p(t.y[i])];
}"""


def _click_node(page, graph, name: str) -> None:
    """Click where plotly drew service ``name`` (positions from the figure the div holds)."""
    x, y = graph.evaluate(_NODE_XY.replace("NAME", repr(name)))
    box = graph.bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_graph_click_focuses_a_service(browser, app_url):
    from playwright.sync_api import expect

    page = _open(browser)
    try:
        _start(page, app_url)
        _pick(page, "Model (models/)", "retry-storm.yaml")
        page.get_by_role("button", name="Run simulation").click()
        graph = page.locator(".js-plotly-plot").first
        graph.wait_for(timeout=120_000)
        _settle(page)
        _click_node(page, graph, "db")
        _settle(page)
        expect(page.locator(".js-plotly-plot .gtitle").first).to_contain_text("focus: db", timeout=30_000)
        _shot(page, "app-graph-focus.png")
    finally:
        page.close()


def test_html_report_opens_without_network(browser, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    results = meshsim.simulate(str(ROOT / "models" / "retry-storm.yaml"), executor="serial")
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
        # click-to-focus works in the file too: a service two hops away fades, a second click restores it
        graph = page.locator("#chart-graph")
        graph.scroll_into_view_if_needed()
        label = (
            "(name) => { const gd = document.getElementById('chart-graph');"
            " return gd.layout.annotations[gd.layout.meta.annotation_owners.findIndex(o => o[0] === name)].opacity; }"
        )
        _click_node(page, graph, "db")
        page.wait_for_function(f"() => ({label})('edge') < 0.5 && ({label})('orders') === 1")
        graph.screenshot(path=str(ARTIFACTS / "report-graph-focus.png"))
        _click_node(page, graph, "db")
        page.wait_for_function(f"() => ({label})('edge') === 1")
    finally:
        page.close()
    assert asked == [], f"the report tried the network: {asked}"
    assert errors == []
