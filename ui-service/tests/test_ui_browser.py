"""End to end in a real browser: `churn-ui` (real Streamlit) -> live `churn-api` -> real model,
and its customer store (a SQLite file holding the IBM base scored by `churn-score run`): the
call list shows ranked customers, opening one shows its reasons, the what-if changes the score;
Model health (against an API serving the registry's champion over its own store) draws the
drift that run stored and names the champion and since when it is champion.

Debian's chromium is driven by Playwright through `executable_path` (no `playwright install`).
When /usr/bin/chromium is missing the test installs it with apt-get (root only) and skips,
saying why, only where it cannot. The screenshot lands in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from testkit import free_port, start_process, stop_process, wait_http

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import ApiNotFoundError
from churn_ui.health_view import run_label, when_text
from churn_ui.wording import pct, reason_text

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt-get when missing and possible; else skip."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed and apt-get as root is not available to add it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"could not install chromium ({' '.join(cmd)}): {done.stderr[-500:]}")
    if not CHROMIUM.exists():
        pytest.skip("apt-get installed chromium but /usr/bin/chromium is still missing")
    return CHROMIUM


@pytest.fixture(scope="module")
def ui_server(store_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real `churn-ui` console script on a free port, talking to the live API (with a store,
    so the customer pages come first)."""
    port = free_port()
    log = tmp_path_factory.mktemp("ui-server") / "ui.log"
    url = f"http://127.0.0.1:{port}/ui"
    process = start_process(
        [str(Path(sys.executable).parent / "churn-ui")],
        log,
        {"API_BASE_URL": store_api, "HOST": "127.0.0.1", "PORT": str(port)},
    )
    try:
        wait_http(f"{url}/_stcore/health", process, timeout=120)
        assert requests.get(f"{url}/_stcore/health", timeout=10).text == "ok"
        yield url
    finally:
        stop_process(process)


def _clean_env() -> dict[str, str]:
    drop = ("MODEL_URI", "DATABASE_URL", "MLFLOW_TRACKING_URI", "CHURN_DEV_MODE")
    return {
        k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("JWT_", "API_"))
    }


@pytest.fixture(scope="module")
def registry_ui(
    mlflow_server: str,
    trained_model_dir: Path,
    dataset_csv: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    """(UI URL, API URL): a `churn-api` serving `telco-churn@champion` from the session's MLflow
    registry (so it knows since when it is champion) over its own SQLite store, filled by
    `churn-score run` as `make run` fills it, and a `churn-ui` on that API."""
    root = tmp_path_factory.mktemp("ui-registry")
    bin_dir = Path(sys.executable).parent
    database_url = f"sqlite:///{root / 'store.db'}"
    cmd = [str(bin_dir / "churn-score"), "run", "--customers", str(dataset_csv)]
    cmd += ["--drop-columns", "Churn", "--model-uri", str(trained_model_dir)]
    cmd += ["--database-url", database_url, "--no-progress"]
    done = subprocess.run(
        cmd, env=_clean_env(), cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    api_port, ui_port = free_port(), free_port()
    api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}/ui"
    api_env = {
        "HOST": "127.0.0.1",
        "PORT": str(api_port),
        "CHURN_DEV_MODE": "true",
        "MODEL_CACHE_DIR": str(root / "cache"),
        "MODEL_REFRESH_SECONDS": "0",
        "MLFLOW_TRACKING_URI": mlflow_server,
        "DATABASE_URL": database_url,
    }
    processes = []
    try:
        with (root / "api.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [str(bin_dir / "churn-api")],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_clean_env() | api_env,
                    start_new_session=True,
                    cwd=ROOT,
                )
            )
        wait_http(f"{api_url}/health/ready", processes[0], timeout=120)
        ui_env = {"API_BASE_URL": api_url, "HOST": "127.0.0.1", "PORT": str(ui_port)}
        processes.append(start_process([str(bin_dir / "churn-ui")], root / "ui.log", ui_env))
        wait_http(f"{ui_url}/_stcore/health", processes[1], timeout=120)
        yield ui_url, api_url
    finally:
        for process in processes:
            stop_process(process)


def test_ui_browser_scores_a_customer(ui_server: str, store_api: str) -> None:
    from playwright.sync_api import sync_playwright

    api_server = store_api
    chromium = ensure_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2600})
            # With a customer store the call list is the start page; this one has its own URL.
            page.goto(f"{ui_server}/score", timeout=90_000)
            page.get_by_text("Scoring service reachable").wait_for(timeout=90_000)

            tenure = page.get_by_role("spinbutton", name="Months as a customer")
            tenure.fill("3")
            tenure.press("Tab")
            page.get_by_role("button", name="Score this customer").click()
            value = page.get_by_test_id("stMetricValue").first
            value.wait_for(timeout=90_000)
            shown = value.inner_text()
            page.get_by_text("Why: the main reasons").wait_for(timeout=30_000)
            # Vega draws the gauge and the reasons as SVG once their data is in.
            page.locator("[data-testid='stVegaLiteChart'] svg.marks").nth(1).wait_for(
                timeout=30_000
            )
            page.wait_for_timeout(1500)  # let the charts finish drawing for the screenshot
            page.screenshot(path=str(ARTIFACTS / "ui-score-a-customer.png"), full_page=True)
            body = page.inner_text("body")
        finally:
            browser.close()

    assert re.fullmatch(r"\d{1,3}\.\d%", shown), shown
    # The same customer the form sent (defaults from GET /model, tenure 3) scored directly.
    info = ChurnApiClient(api_server).model_info()
    customer = {f.name: f.default for f in info.fields} | {"tenure": 3}
    expected = ChurnApiClient(api_server).predict(customer)
    assert shown == f"{expected.churn_probability * 100:.1f}%"
    assert "Months as a customer: 3 months" in body
    assert "Scoring service reachable" in body and expected.model.version in body
    assert "Traceback" not in body


def test_ui_browser_call_list_customer_and_what_if(ui_server: str, store_api: str) -> None:
    from playwright.sync_api import sync_playwright

    api = ChurnApiClient(store_api, timeout=60)
    ranked = api.call_list({"limit": "50", "offset": "0", "sort": "expected_value"})
    assert ranked.total > 7000 and [r.rank for r in ranked.customers] == list(range(1, 51))
    top = ranked.customers[0]
    record = api.customer(top.customer_id)
    contract = "Two year" if record.attributes.get("Contract") != "Two year" else "One year"
    expected = api.what_if(top.customer_id, {"Contract": contract})
    assert expected.delta != 0
    chromium = ensure_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 3400})
            page.goto(ui_server, timeout=90_000)
            # The call list opens first: ranked customers of the store, best expected value first.
            page.get_by_role("heading", name="Call list").wait_for(timeout=90_000)
            page.get_by_text(f"Customers 1–50 of {ranked.total:,}").wait_for(timeout=60_000)
            page.get_by_text("customers of this ranking is worth most").wait_for(timeout=30_000)
            page.locator("[data-testid='stVegaLiteChart'] svg.marks").first.wait_for(timeout=30_000)
            picker = page.get_by_test_id("stSelectbox").filter(has_text="Open a customer")
            shown_first = picker.locator("input").first.input_value() or picker.inner_text()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "ui-call-list.png"), full_page=True)
            list_body = page.inner_text("body")

            # Opening the top customer shows its reasons.
            page.get_by_role("button", name="Open customer").click()
            page.get_by_role("heading", name=f"Customer {top.customer_id}").wait_for(timeout=60_000)
            page.get_by_text("Why: the main reasons").wait_for(timeout=30_000)
            metric = page.get_by_test_id("stMetricValue")
            metric.get_by_text(pct(record.latest.churn_probability)).first.wait_for(timeout=30_000)
            page.get_by_role("button", name="Score the what-if").wait_for(timeout=30_000)
            customer_url = page.url
            customer_body = page.inner_text("body")

            # The what-if: the stored customer on another contract scores differently.
            what_if = page.get_by_test_id("stForm").filter(has_text="Score the what-if")
            what_if.get_by_test_id("stSelectbox").filter(has_text="Contract").click()
            page.get_by_role("option", name=contract).click()
            what_if.get_by_role("button", name="Score the what-if").click()
            page.get_by_text("Churn probability with the change").wait_for(timeout=60_000)
            metric.get_by_text(pct(expected.what_if.churn_probability)).first.wait_for(
                timeout=30_000
            )
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "ui-customer-what-if.png"), full_page=True)
            whatif_body = page.inner_text("body")
        finally:
            browser.close()

    assert top.customer_id in shown_first, shown_first
    assert "Traceback" not in list_body + customer_body + whatif_body
    assert f"customer={top.customer_id}" in customer_url
    assert record.latest.reasons
    for reason in record.latest.reasons:
        assert reason_text(reason) in customer_body
    assert pct(record.latest.churn_probability) in customer_body
    assert f"What if Contract = {contract}" in whatif_body
    assert pct(expected.baseline.churn_probability) in whatif_body
    assert pct(expected.what_if.churn_probability) in whatif_body
    assert f"{expected.delta * 100:+.1f} points" in whatif_body


def test_ui_browser_model_health(registry_ui: tuple[str, str]) -> None:
    """Model health against the live API: the drift of the run `churn-score run` stored when it
    filled the store, drawn per field, and the registry's champion with since when."""
    from playwright.sync_api import sync_playwright

    ui_server, api_url = registry_ui
    api = ChurnApiClient(api_url, timeout=60)
    try:
        history = api.drift()
    except ApiNotFoundError:
        pytest.skip("this churn-api has no /monitoring routes registered yet")
    assert history.runs, "churn-score run stored no drift report"
    info = api.model_info()
    view = api.models()
    assert view.aliases is not None and view.aliases.champion is not None
    champion = view.aliases.champion
    assert champion.since, "the training job tagged no champion_since"
    chromium = ensure_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 3000})
            page.goto(f"{ui_server}/model_health", timeout=90_000)
            page.get_by_role("heading", name="Model health").wait_for(timeout=90_000)
            page.get_by_role("heading", name="Champion and challenger").wait_for(timeout=60_000)
            page.get_by_text(f"Latest scoring run {run_label(history.runs[0])}").wait_for(
                timeout=60_000
            )
            # The drift chart, then the score distribution, drawn as SVG once their data is in.
            charts = page.locator("[data-testid='stVegaLiteChart'] svg.marks")
            charts.nth(1).wait_for(timeout=30_000)
            page.get_by_text("No outcomes ingested yet").wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "ui-model-health.png"), full_page=True)
            body = page.inner_text("body")
            chart_text = charts.first.inner_html()
        finally:
            browser.close()

    assert "Traceback" not in body
    assert f"Serving: version {info.version} of {info.name}" in body
    assert info.alias == "champion" and "(alias champion)" in body
    # The champion's version and since when, from the version tag the training job wrote.
    since = when_text(champion.since)
    assert since != champion.since  # parsed, shown as '30 November 2026, 10:41 UTC'
    assert f"Champion: version {champion.version}, champion since {since}." in body
    assert "Challenger:" in body and "Previous champion:" in body
    # The latest run's drift per field, with the watch and drift limits drawn.
    assert "Contract" in chart_text and "Months as a customer" in chart_text
    limits = history.thresholds
    assert f"watch ({limits.field_psi_watch:g})" in chart_text
    assert f"drift ({limits.field_psi_drift:g})" in chart_text
    assert "churn-score outcomes --labels" in body
