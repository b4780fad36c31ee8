"""`gert serve` in a real browser: Chromium (Debian's, driven by Selenium through Debian's
chromedriver) signs in, starts the example incident's chain from its start link, answers
the manual step in the form, watches the run reach its outcome live, and opens the
timeline and the postmortem. Screenshots of each page are kept as test artifacts under
the test's temporary folder (``screenshots/``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import gert, triaged_example, wait_for
from test_server import ANA, ASK, INCIDENT, TOKENS, TRIAGE, serving

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium; the set-up installs it (Debian's chromium, chromium-driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert Path(CHROMIUM).exists() and Path(DRIVER).exists(), (
        "Chromium and chromedriver come from the README's set-up (scripts/setup.sh)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def shoot(driver: object, folder: Path, name: str) -> None:
    folder.mkdir(exist_ok=True)
    driver.save_screenshot(str(folder / f"{name}.png"))  # type: ignore[attr-defined]


def text_of(driver: object) -> str:
    """The page's visible text ("" while the page is being replaced: asked again)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    except (StaleElementReferenceException, NoSuchElementException):
        return ""


def test_an_operator_runs_the_incident_s_chain_from_the_browser(tmp_path: Path, browser) -> None:
    from selenium.webdriver.common.by import By

    root = triaged_example(tmp_path, 0)
    with (root / "gert.yaml").open("a") as f:
        f.write("server:\n  tokens:\n    - {name: ana, env: GERT_TEST_ANA, role: operator}\n")
    (root / "runbooks" / "ask.runbook.yaml").write_text(ASK)
    shots = tmp_path / "screenshots"
    d = browser
    with serving(root, TOKENS) as base:
        # signing in
        d.get(f"{base}/incidents")
        assert "/login" in d.current_url
        d.find_element(By.NAME, "token").send_keys(ANA)
        d.find_element(By.CSS_SELECTOR, "form.login button").click()
        wait_for(lambda: d.current_url.endswith("/incidents"), what="the incidents page")
        shoot(d, shots, "1-incidents")

        # the link an alert carries: inputs bound from the incident, then Start (real)
        d.get(f"{base}/incidents/{INCIDENT}/start?runbook={TRIAGE}")
        page = text_of(d)
        assert "sobeys-sql01" in page and "incident.custom_fields" in page
        shoot(d, shots, "2-start")
        d.find_element(By.CSS_SELECTOR, 'button[value="real"]').click()
        wait_for(lambda: "/runs/" in d.current_url, what="the new run's page")

        # the chain hands off to the cause runbook, which waits at its manual step
        d.get(f"{base}/incidents/{INCIDENT}")
        waiting = wait_for(
            lambda: (
                d.find_elements(By.CSS_SELECTOR, ".box.state-waiting a") or (d.refresh() and None)
            ),
            timeout=60,
            interval=0.5,
            what="a run waiting at its manual step",
        )
        shoot(d, shots, "3-incident-waiting")
        waiting[0].click()
        wait_for(lambda: "Waiting: Wait for the replica build" in text_of(d), what="the form")
        assert "87% rebuilt" in text_of(d)  # the instructions, as the run rendered them
        shoot(d, shots, "4-manual-step")
        d.find_element(By.NAME, "ev_dashboard_link").send_keys("https://dash.example/1")
        for box in d.find_elements(By.NAME, "ev_checks"):
            box.click()
        d.find_element(By.CSS_SELECTOR, 'input[name="outcome"][value="resolved"]').click()
        d.find_element(By.CSS_SELECTOR, "form.answer button").click()

        # the run page follows the run live (server-sent events) to its outcome
        wait_for(
            lambda: (
                "Trace verified" in text_of(d)
                and "resolved" in text_of(d)
                and "Waiting:" not in text_of(d)
            ),
            timeout=60,
            interval=0.5,
            what="the answered run to reach resolved",
        )
        shoot(d, shots, "5-run-resolved")

        # an attachment, uploaded through the browser's own file field
        started = gert("exec", "runbooks/ask.runbook.yaml", "--incident", INCIDENT, cwd=root)
        assert started.returncode == 4, started.stderr  # waiting for its answer
        run_id = started.stderr.split("gert resume ")[1].split()[0]
        graph = tmp_path / "graph.png"
        graph.write_bytes(b"\x89PNG a graph from the dashboard")
        d.get(f"{base}/runs/{run_id}")
        d.find_element(By.NAME, "ev_note").send_keys("freed 40 GB")
        d.find_element(By.NAME, "ev_shot").send_keys(str(graph))
        d.find_element(By.CSS_SELECTOR, 'input[name="outcome"][value="escalated"]').click()
        d.find_element(By.CSS_SELECTOR, "form.answer button").click()
        wait_for(
            lambda: "escalated" in text_of(d) and "Waiting:" not in text_of(d),
            timeout=60,
            interval=0.5,
            what="the run with the attachment to end",
        )
        assert list((root / ".runbook" / "runs" / run_id / "attachments").iterdir())

        # the incident's timeline view and the postmortem
        d.get(f"{base}/incidents/{INCIDENT}")
        page = text_of(d)
        assert "Chain 1" in page and "IsReplicaInBuild" in page and "resolved" in page
        shoot(d, shots, "6-timeline")
        d.get(f"{base}/incidents/{INCIDENT}/postmortem")
        assert "Executive Summary" in text_of(d)
        shoot(d, shots, "7-postmortem")
    assert len(list(shots.glob("*.png"))) == 7
