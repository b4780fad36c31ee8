"""`gert serve`: a real uvicorn server on 127.0.0.1 over a project with a real triaged
incident, read through its JSON API and its pages."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from helpers import gert, triaged_example, wait_for

INCIDENT = "747870160"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served(subprocess.Popen):  # type: ignore[type-arg]
    """A `gert serve` process whose stderr (JSON lines: not a terminal) is read as it
    comes, so a busy server never blocks on a full pipe; :attr:`lines` holds it."""

    lines: list[str]
    reader: Any  # the thread reading stderr; ends when the process closes it

    def said(self) -> str:
        return "".join(self.lines)


def start_server(root: Path, env: dict[str, str] | None = None) -> tuple[Served, str]:
    """`gert serve` started in *root* and answering; the process and its base URL."""
    import os
    import threading

    port = free_port()
    proc = Served(
        [sys.executable, "-m", "gert.cli", "serve", "--port", str(port)],
        cwd=root,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.lines = []
    stderr = proc.stderr
    assert stderr is not None
    reader = threading.Thread(target=lambda: proc.lines.extend(iter(stderr.readline, "")))
    reader.daemon = True
    reader.start()
    proc.reader = reader
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (reader.join(5), proc.said())[1]
        try:
            return httpx.get(f"{base}/api/v1/openapi.json", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, timeout=30, interval=0.1, what="gert serve to answer")
    return proc, base


@contextmanager
def serving(root: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`gert serve` running in *root*; yields its base URL, stops it afterwards."""
    proc, base = start_server(root, env)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project with its chain run twice for the incident, and a note on the
    incident's timeline that holds a secret and markup."""
    root = triaged_example(tmp_path_factory.mktemp("served"), 2)
    r = gert(
        "incident",
        "note",
        INCIDENT,
        "<script>alert(1)</script> rotated Password=hunter2hunter2; done",
        cwd=root,
    )
    assert r.returncode == 0, r.stderr
    return root


@pytest.fixture(scope="module")
def server(example: Path) -> Iterator[str]:
    with serving(example) as base:
        yield base


def test_the_api_lists_the_incident_with_its_chains(server: str) -> None:
    listed = httpx.get(f"{server}/api/v1/incidents").json()["incidents"]
    mine = next(i for i in listed if i["id"] == INCIDENT)
    assert mine["runs"] == 4 and mine["last_state"] == "resolved"
    shown = httpx.get(f"{server}/api/v1/incidents/{INCIDENT}").json()
    assert len(shown["chains"]) == 2
    assert [r["runbook_name"] for d, r in ((r["depth"], r) for r in shown["chains"][0])] == [
        "login-success-rate-below-target",
        "IsReplicaInBuild",
    ]
    assert shown["incident"]["id"] == INCIDENT
    assert httpx.get(f"{server}/api/v1/incidents/nope-404").status_code == 404


def test_a_run_is_verified_when_it_is_asked_for(server: str) -> None:
    rows = httpx.get(f"{server}/api/v1/runs", params={"incident": INCIDENT}).json()["runs"]
    assert len(rows) == 4
    run = httpx.get(f"{server}/api/v1/runs/{rows[0]['run_id']}").json()
    assert run["verification"] == {
        "ok": True,
        "problems": [],
        "notes": run["verification"]["notes"],
    }
    assert run["manifest"]["run_id"] == rows[0]["run_id"]
    assert any(e["type"] == "run_completed" for e in run["events"])
    assert httpx.get(f"{server}/api/v1/runs/20990101T000000-deadbeef").status_code == 404
    assert httpx.get(f"{server}/api/v1/runs/..%2F..%2Fetc").status_code in (404, 422)


def test_the_openapi_document_describes_the_api(server: str) -> None:
    doc = httpx.get(f"{server}/api/v1/openapi.json").json()
    assert {"/api/v1/incidents", "/api/v1/incidents/{incident_id}", "/api/v1/runs/{run_id}"} <= set(
        doc["paths"]
    )
    assert not any(p.startswith("/login") or p == "/incidents" for p in doc["paths"])


def test_pages_draw_the_incident_its_chains_and_its_timeline(server: str) -> None:
    page = httpx.get(f"{server}/incidents")
    assert page.status_code == 200 and f'href="/incidents/{INCIDENT}"' in page.text
    page = httpx.get(f"{server}/incidents/{INCIDENT}").text
    assert page.count('<section class="chain"') == 2
    assert "login-success-rate-below-target" in page and "IsReplicaInBuild" in page
    assert "state-resolved" in page
    assert "check_login_failures: passed" in page  # a step on the merged timeline
    assert "rotated" in page  # the incident's own timeline, merged in


def test_hostile_text_is_escaped_and_secrets_are_redacted(server: str) -> None:
    page = httpx.get(f"{server}/incidents/{INCIDENT}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "hunter2" not in page and "Password=***" in page
    api = httpx.get(f"{server}/api/v1/incidents/{INCIDENT}").text
    assert "hunter2" not in api


def test_every_answer_carries_a_strict_content_security_policy(server: str) -> None:
    for path in ("/incidents", f"/incidents/{INCIDENT}", "/api/v1/incidents", "/nope"):
        headers = httpx.get(f"{server}{path}").headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp, path
        assert headers["x-content-type-options"] == "nosniff"
    page = httpx.get(f"{server}/incidents").text
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.S)
    assert scripts == [""] and '<script src="/static/live.js"' in page  # none inline
    assert " style=" not in page and " on" + "click=" not in page


def test_a_run_page_shows_its_steps_and_a_tampered_trace_in_red(tmp_path: Path) -> None:
    root = triaged_example(tmp_path, 1)
    run = json.loads(gert("runs", "list", "--incident", INCIDENT, "--json", cwd=root).stdout)[-1]
    with serving(root) as base:
        page = httpx.get(f"{base}/runs/{run['run_id']}").text
        assert "Trace verified" in page and 'id="step-check_login_failures"' in page
        trace = Path(run["folder"]) / "trace.jsonl"
        if not trace.is_absolute():
            trace = root / trace
        text = trace.read_text()
        trace.write_text(text.replace('"status":"passed"', '"status":"failed"', 1))
        page = httpx.get(f"{base}/runs/{run['run_id']}").text
        assert "Trace verification failed" in page and "Trace verified" not in page


def test_with_tokens_every_request_names_one(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "gert.yaml").write_text(
        "server:\n  tokens:\n"
        "    - {name: ana, env: GERT_TEST_ANA, role: operator}\n"
        "    - {name: vic, env: GERT_TEST_VIC}\n"
        "    - {name: gone, env: GERT_TEST_UNSET, role: approver}\n"
    )
    ana, vic = "a" * 20 + "-ana-token", "v" * 20 + "-vic-token"
    with serving(root, {"GERT_TEST_ANA": ana, "GERT_TEST_VIC": vic}) as base:
        assert httpx.get(f"{base}/api/v1/incidents").status_code == 401
        assert (
            httpx.get(
                f"{base}/api/v1/incidents", headers={"Authorization": "Bearer nope"}
            ).status_code
            == 401
        )
        me = httpx.get(f"{base}/api/v1/whoami", headers={"Authorization": f"Bearer {ana}"}).json()
        assert me == {"name": "ana", "role": "operator", "actor": "user:ana"}
        me = httpx.get(f"{base}/api/v1/whoami", headers={"Authorization": f"Bearer {vic}"}).json()
        assert me["role"] == "viewer"
        # a browser: sent to sign in; a form without this server's CSRF cookie is refused
        page = httpx.get(f"{base}/incidents", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        refused = httpx.post(
            f"{base}/login", data={"token": vic, "csrf": "x", "next": "/incidents"}
        )
        assert refused.status_code == 403
        with httpx.Client(base_url=base) as browser:
            form = browser.get("/login?next=/incidents").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            wrong = browser.post(
                "/login",
                data={"token": "nope", "csrf": csrf, "next": "/incidents"},
                follow_redirects=False,
            )
            assert "failed=1" in wrong.headers["location"]
            done = browser.post(
                "/login",
                data={"token": vic, "csrf": csrf, "next": "//evil.example/x"},
                follow_redirects=False,
            )
            assert done.status_code == 303 and done.headers["location"] == "/incidents"
            page = browser.get("/incidents")
            assert page.status_code == 200 and "vic (viewer)" in page.text


def test_without_tokens_it_will_not_listen_beyond_loopback(tmp_path: Path) -> None:
    r = gert("serve", "--host", "0.0.0.0", "--port", str(free_port()), cwd=tmp_path)
    assert r.returncode == 2
    assert "refusing to listen on 0.0.0.0 without tokens" in r.stderr


TRIAGE = "runbooks/login-success-rate-below-target.runbook.yaml"
ANA, VIC, BO = "a" * 20 + "-ana-token", "v" * 20 + "-vic-token", "b" * 20 + "-bo-token"
TOKENS = {"GERT_TEST_ANA": ANA, "GERT_TEST_VIC": VIC, "GERT_TEST_BO": BO}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The triaged example with tokens: ana operates, vic views."""
    root = triaged_example(tmp_path_factory.mktemp("guarded"), 1)
    with (root / "gert.yaml").open("a") as f:
        f.write(
            "server:\n  tokens:\n"
            "    - {name: ana, env: GERT_TEST_ANA, role: operator}\n"
            "    - {name: vic, env: GERT_TEST_VIC}\n"
            "    - {name: bo, env: GERT_TEST_BO, role: approver}\n"
        )
    (root / "runbooks" / "echo.runbook.yaml").write_text(
        "apiVersion: runbook/v0\n"
        "meta: {name: echo, kind: composable, inputs: {word: {from: incident.title}}}\n"
        "steps:\n"
        "  - {id: say, type: cli, with: {argv: [echo, '{{ .word }}']}, capture: {out: stdout}}\n"
    )
    with serving(root, TOKENS) as base:
        yield root, base


@contextmanager
def signed_in_browser(base: str, token: str) -> Iterator[httpx.Client]:
    """A client that signed in through the login form, as a browser does."""
    with httpx.Client(base_url=base) as browser:
        form = browser.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        browser.post("/login", data={"token": token, "csrf": csrf, "next": "/incidents"})
        yield browser


def test_the_start_link_binds_inputs_from_the_incident_and_starts_the_chain(guarded) -> None:
    _, base = guarded
    with signed_in_browser(base, ANA) as browser:
        page = browser.get(f"/incidents/{INCIDENT}/start", params={"runbook": TRIAGE})
        assert page.status_code == 200
        text = page.text
        assert "server_name" in text and "sobeys-sql01" in text  # bound from the incident
        assert "incident.custom_fields" in text  # and says from where
        assert 'value="real"' in text and 'value="dry-run"' in text
        csrf = re.search(r'name="csrf" value="([^"]+)"', text).group(1)
        done = browser.post(
            f"/incidents/{INCIDENT}/start",
            data={"csrf": csrf, "runbook": TRIAGE, "mode": "dry-run"},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"].startswith("/runs/")
        run_id = done.headers["location"].split("/")[-1]
    run = run_when(
        base, run_id, lambda s: s != "running", "the started chain's first run to end", timeout=30
    )
    assert run["manifest"]["actor"] == "user:ana" and run["manifest"]["mode"] == "dry-run"
    assert run["manifest"]["icm_id"] == INCIDENT and run["verification"]["ok"]


def test_a_viewer_sees_the_start_link_but_cannot_start(guarded) -> None:
    _, base = guarded
    with signed_in_browser(base, VIC) as browser:
        text = browser.get(f"/incidents/{INCIDENT}/start", params={"runbook": TRIAGE}).text
        assert 'value="real"' not in text and "starting a run needs an operator" in text
        csrf = re.search(r'name="csrf" value="([^"]+)"', text).group(1)
        refused = browser.post(
            f"/incidents/{INCIDENT}/start", data={"csrf": csrf, "runbook": TRIAGE, "mode": "real"}
        )
        assert refused.status_code == 403
    api = httpx.post(
        f"{base}/api/v1/runs",
        json={"runbook": TRIAGE, "incident_id": INCIDENT},
        headers={"Authorization": f"Bearer {VIC}"},
    )
    assert api.status_code == 403


def test_a_form_post_without_this_servers_token_is_refused(guarded) -> None:
    _, base = guarded
    with signed_in_browser(base, ANA) as browser:
        refused = browser.post(
            f"/incidents/{INCIDENT}/start",
            data={"csrf": "forged", "runbook": TRIAGE, "mode": "real"},
        )
        assert refused.status_code == 403


def test_the_api_starts_a_real_chain_as_the_token_s_holder(guarded) -> None:
    _, base = guarded
    auth = {"Authorization": f"Bearer {ANA}"}
    r = httpx.post(
        f"{base}/api/v1/runs",
        json={"runbook": "runbooks/echo.runbook.yaml", "incident_id": INCIDENT, "mode": "real"},
        headers=auth,
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    run = run_when(base, run_id, lambda s: s == "completed", "the chain to complete", timeout=30)
    assert run["manifest"]["actor"] == "user:ana"
    assert run["manifest"]["inputs_resolved"]["word"].startswith("Login success rate below")
    assert run["verification"]["ok"]
    # paths out of the project, and runbooks that are not there, start nothing
    for bad in ("../../etc/passwd", "runbooks/nope.runbook.yaml", "/etc/hostname"):
        r = httpx.post(f"{base}/api/v1/runs", json={"runbook": bad, "mode": "real"}, headers=auth)
        assert r.status_code == 404, (bad, r.text)


def test_a_live_stream_says_when_the_incident_s_chains_move(guarded) -> None:
    """The incident page's stream sends `changed` when a chain starts and as it records
    steps; the page marks the part that follows it."""
    _, base = guarded
    auth = {"Authorization": f"Bearer {ANA}"}
    page = httpx.get(f"{base}/incidents/{INCIDENT}", headers=auth).text
    assert f'data-live="/api/v1/incidents/{INCIDENT}/stream"' in page
    seen: list[str] = []
    with httpx.stream(
        "GET", f"{base}/api/v1/incidents/{INCIDENT}/stream", headers=auth, timeout=30
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        started = False
        for line in stream.iter_lines():
            seen.append(line)
            if line.startswith("retry:") and not started:
                started = True  # the stream is listening: now move the incident
                r = httpx.post(
                    f"{base}/api/v1/runs",
                    json={
                        "runbook": "runbooks/echo.runbook.yaml",
                        "incident_id": INCIDENT,
                        "mode": "real",
                    },
                    headers=auth,
                )
                assert r.status_code == 202
            if line == "event: changed":
                break
    assert "event: changed" in seen
    assert httpx.get(f"{base}/api/v1/incidents/{INCIDENT}/stream").status_code == 401


# ------------------------------------------------------------------ alerts

ALERT_SECRET = "s" * 24 + "-alert-secret"


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A project that takes alerts: signed with a secret, or with ana's token; routed by
    label, by title, and by a failure signature of the alert's log."""
    root = tmp_path_factory.mktemp("intake")
    (root / "gert.yaml").write_text(
        "record: 'off'\n"
        "server:\n"
        "  alert_secret_env: GERT_TEST_ALERTS\n"
        "  max_runs: 4\n"
        "  tokens:\n"
        "    - {name: ana, env: GERT_TEST_ANA, role: operator}\n"
        "    - {name: vic, env: GERT_TEST_VIC}\n"
        "routes:\n"
        "  - {match: {alertname: ServiceDown, service: /^bill/}, runbook: runbooks/down.runbook.yaml}\n"
        "  - {title: 'disk .* full', runbook: runbooks/disk.runbook.yaml, mode: dry-run}\n"
    )
    (root / "runbooks").mkdir()
    for name, field in (("down", "service"), ("disk", "host")):
        (root / "runbooks" / f"{name}.runbook.yaml").write_text(
            "apiVersion: runbook/v0\n"
            f"meta: {{name: {name}, kind: composable, inputs: {{target: {{from: incident.custom_fields.{field}}}}}}}\n"
            "steps:\n"
            "  - {id: look, type: cli, with: {argv: [echo, 'looking at {{ .target }}']}, capture: {out: stdout}}\n"
        )
    (root / "runbooks" / "oom.runbook.yaml").write_text(
        "apiVersion: runbook/v0\nmeta: {name: oom, kind: composable}\n"
        "steps:\n  - {id: look, type: cli, with: {argv: [echo, oom]}}\n"
    )
    (root / "oom.signatures.yaml").write_text(
        "apiVersion: signatures/v0\nsignatures:\n"
        "  - {id: oom-kill, title: OOM kill, match: {regex: 'Out of memory: Killed process \\d+'}, "
        "runbook: runbooks/oom.runbook.yaml}\n"
    )
    with serving(root, {**TOKENS, "GERT_TEST_ALERTS": ALERT_SECRET}) as base:
        yield root, base


def signed(body: bytes) -> dict[str, str]:
    import hashlib
    import hmac

    digest = hmac.new(ALERT_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Gert-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def alertmanager(fingerprint: str, service: str = "billing", status: str = "firing") -> bytes:
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="ServiceDown"}',
            "status": status,
            "receiver": "gert",
            "commonLabels": {"alertname": "ServiceDown"},
            "alerts": [
                {
                    "status": status,
                    "labels": {
                        "alertname": "ServiceDown",
                        "service": service,
                        "severity": "critical",
                    },
                    "annotations": {"summary": f"{service} is down"},
                    "startsAt": "2026-11-30T10:00:00Z",
                    "fingerprint": fingerprint,
                }
            ],
        }
    ).encode()


def run_when(
    base: str,
    run_id: str,
    done: Callable[[str], bool],
    what: str,
    token: str = ANA,
    timeout: float = 60,
) -> dict:
    """The run as the API reads it, once *done* holds for its status."""
    auth = {"Authorization": f"Bearer {token}"}

    def read() -> dict | None:
        run = httpx.get(f"{base}/api/v1/runs/{run_id}", headers=auth).json()
        return run if done(run["manifest"]["status"]) else None

    return wait_for(read, timeout=timeout, what=what)


def finished(base: str, run_id: str) -> dict:
    return run_when(base, run_id, lambda s: s != "running", f"run {run_id} to end")


def test_an_alertmanager_alert_opens_its_incident_and_starts_its_runbook(intake) -> None:
    root, base = intake
    body = alertmanager("fp-first")
    r = httpx.post(f"{base}/api/v1/alerts", content=body, headers=signed(body))
    assert r.status_code == 202, r.text
    (taken,) = r.json()["alerts"]
    assert taken["runbook"] == "runbooks/down.runbook.yaml" and taken["run_id"]
    run = finished(base, taken["run_id"])["manifest"]
    assert run["status"] == "completed" and run["actor"] == "alert:webhook"
    assert run["inputs_resolved"]["target"] == "billing"  # a label, bound from the incident
    incident = json.loads(
        gert("incident", "show", taken["incident_id"], "--json", cwd=root).stdout
    )["incident"]
    assert incident["title"] == "billing is down" and incident["severity"] == 1
    # the same alert again (Alertmanager redelivers): nothing new starts
    again = httpx.post(f"{base}/api/v1/alerts", content=body, headers=signed(body)).json()
    assert again["alerts"][0]["duplicate"] is True
    assert again["alerts"][0]["run_id"] == taken["run_id"]
    rows = json.loads(
        gert("runs", "list", "--incident", taken["incident_id"], "--json", cwd=root).stdout
    )
    assert len(rows) == 1
    # resolved: a note on the incident, no run
    body = alertmanager("fp-first", status="resolved")
    gone = httpx.post(f"{base}/api/v1/alerts", content=body, headers=signed(body)).json()["alerts"][
        0
    ]
    assert gone["incident_id"] == taken["incident_id"] and "run_id" not in gone
    timeline = json.loads(
        gert("incident", "show", taken["incident_id"], "--json", cwd=root).stdout
    )["incident"]["timeline"]
    assert any("the alert resolved" in e["text"] for e in timeline)


def test_an_alert_with_a_bad_signature_starts_nothing(intake) -> None:
    root, base = intake
    body = alertmanager("fp-forged")
    forged = {**signed(body), "X-Gert-Signature": "sha256=" + "0" * 64}
    assert httpx.post(f"{base}/api/v1/alerts", content=body, headers=forged).status_code == 401
    assert httpx.post(f"{base}/api/v1/alerts", content=body).status_code == 401
    viewer = {"Authorization": f"Bearer {VIC}", "Content-Type": "application/json"}
    assert httpx.post(f"{base}/api/v1/alerts", content=body, headers=viewer).status_code == 401
    listed = json.loads(gert("incident", "list", "--json", cwd=root).stdout)
    assert not any("fp-forged" in json.dumps(i) for i in listed)
    operator = {"Authorization": f"Bearer {ANA}", "Content-Type": "application/json"}
    r = httpx.post(f"{base}/api/v1/alerts", content=body, headers=operator)
    assert r.status_code == 202 and r.json()["alerts"][0]["run_id"]


def test_generic_alerts_route_by_title_by_signature_or_not_at_all(intake) -> None:
    _, base = intake

    def send(alert: dict) -> dict:
        body = json.dumps(alert).encode()
        r = httpx.post(f"{base}/api/v1/alerts", content=body, headers=signed(body))
        assert r.status_code == 202, r.text
        return r.json()["alerts"][0]

    disk = send({"title": "disk /var full on db7", "fields": {"host": "db7"}, "fingerprint": "d1"})
    assert disk["runbook"] == "runbooks/disk.runbook.yaml" and disk["mode"] == "dry-run"
    assert finished(base, disk["run_id"])["manifest"]["mode"] == "dry-run"
    oom = send({"title": "pod died", "log": "boot ok\nOut of memory: Killed process 4242 (java)\n"})
    assert oom["signature"] == "oom-kill" and oom["runbook"] == "runbooks/oom.runbook.yaml"
    lost = send({"title": "something odd", "incident_id": "INC-77"})
    assert lost["unrouted"] is True and lost["incident_id"] == "INC-77"
    bad = httpx.post(f"{base}/api/v1/alerts", content=b"{}", headers=signed(b"{}"))
    assert bad.status_code == 400 and "needs a title" in bad.text


def test_fifty_alerts_at_once_start_fifty_chains_that_all_verify(intake) -> None:
    from concurrent.futures import ThreadPoolExecutor

    root, base = intake

    def send(n: int) -> dict:
        body = alertmanager(f"fp-burst-{n}", service=f"billing-{n}")
        r = httpx.post(f"{base}/api/v1/alerts", content=body, headers=signed(body), timeout=60)
        assert r.status_code == 202, r.text
        return r.json()["alerts"][0]

    with ThreadPoolExecutor(50) as pool:
        taken = list(pool.map(send, range(50)))
    run_ids = {t["run_id"] for t in taken}
    assert len(run_ids) == 50 and "" not in run_ids
    for run_id in run_ids:
        run = finished(base, run_id)
        assert run["manifest"]["status"] == "completed" and run["verification"]["ok"]
    indexed = json.loads(gert("runs", "list", "--limit", "1000", "--json", cwd=root).stdout)
    assert run_ids <= {r["run_id"] for r in indexed}


# ------------------------------------------------------------------ answering in the browser

ASK = """apiVersion: runbook/v0
meta: {name: ask, kind: composable}
steps:
  - {id: look, type: cli, with: {argv: [echo, 'disk at 97%']}, capture: {usage: stdout}}
  - id: confirm
    type: manual
    instructions: |
      Check the dashboard for **{{ .usage }}**.
    required_evidence:
      - {kind: text, name: note}
      - {kind: checklist, name: checks, items: [logs read, owner paged]}
      - {kind: attachment, name: shot}
    outcomes:
      - {state: resolved, recommendation: Cleaned up.}
      - {state: escalated, recommendation: Paged the owner.}
"""


def test_a_waiting_run_is_answered_in_the_browser_and_goes_on(guarded) -> None:
    root, base = guarded
    (root / "runbooks" / "ask.runbook.yaml").write_text(ASK)
    auth = {"Authorization": f"Bearer {ANA}"}
    r = httpx.post(
        f"{base}/api/v1/runs",
        json={"runbook": "runbooks/ask.runbook.yaml", "incident_id": INCIDENT, "mode": "real"},
        headers=auth,
    )
    run_id = r.json()["run_id"]
    waiting = finished(base, run_id)
    assert waiting["manifest"]["status"] == "waiting"
    assert waiting["waiting"]["step_id"] == "confirm" and waiting["waiting"]["outcomes"] == [
        "resolved",
        "escalated",
    ]
    with signed_in_browser(base, VIC) as viewer:
        page = viewer.get(f"/runs/{run_id}").text
        assert "Waiting: confirm" in page and "answering needs an operator" in page
    with signed_in_browser(base, ANA) as browser:
        page = browser.get(f"/runs/{run_id}").text
        assert "Check the dashboard for **disk at 97%**." in page  # as rendered, as text
        assert (
            'name="ev_checks" value="owner paged"' in page and 'type="file" name="ev_shot"' in page
        )
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        form = {
            "csrf": csrf,
            "step_id": "confirm",
            "ev_note": "freed 40 GB",
            "ev_checks": ["logs read", "owner paged"],
            "outcome": "escalated",
        }
        done = browser.post(
            f"/runs/{run_id}/answer",
            data=form,
            files={"ev_shot": ("graph.png", b"\x89PNG fake image bytes", "image/png")},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        run = run_when(
            base,
            run_id,
            lambda s: s not in ("waiting", "running"),
            "the answered run to end",
            timeout=30,
        )
        assert run["manifest"]["outcome"]["state"] == "escalated" and run["verification"]["ok"]
        recorded = [e["data"] for e in run["events"] if e["type"] == "evidence_recorded"]
        assert recorded[-1]["recorded_by"] == "user:ana"  # who answered, not who started
        confirm = next(
            s for s in run["steps"] if s["step_id"] == "confirm" and s["status"] == "passed"
        )
        evidence = confirm["attempts"][-1]["evidence"]
        assert evidence["note"]["value"] == "freed 40 GB"
        assert evidence["checks"]["items"] == {"logs read": True, "owner paged": True}
        assert (
            evidence["shot"]["size"] == len(b"\x89PNG fake image bytes")
            and len(evidence["shot"]["sha256"]) == 64
        )
        # the attachment is downloadable from the run's page, as stored
        page = browser.get(f"/runs/{run_id}").text
        link = re.search(r'href="(/runs/[^"]+/attachments/[^"]+)"', page).group(1)
        got = browser.get(link)
        assert got.content == b"\x89PNG fake image bytes"
        assert got.headers["content-disposition"].startswith("attachment")
        assert browser.get(f"/runs/{run_id}/attachments/..%2Frun.yaml").status_code == 404
        # a second answer (another browser, a terminal): the first stood
        again = browser.post(
            f"/runs/{run_id}/answer", data={**form, "csrf": csrf}, follow_redirects=False
        )
        assert again.status_code == 409 and "no step of it waits for an answer" in again.text


def test_runs_waiting_at_manual_steps_outlive_a_killed_server(tmp_path: Path) -> None:
    """SIGKILL the server while three chains wait at a manual step: nothing of a waiting
    run lived only in its memory; restarted, it answers them and they finish, their hash
    chains unbroken."""
    import os
    import signal

    root = tmp_path / "p"
    (root / "runbooks").mkdir(parents=True)
    (root / "gert.yaml").write_text(
        "record: 'off'\nserver:\n  tokens:\n    - {name: ana, env: GERT_TEST_ANA, role: operator}\n"
    )
    (root / "runbooks" / "ask.runbook.yaml").write_text(ASK)
    (root / "shot.png").write_bytes(b"\x89PNG a graph")
    auth = {"Authorization": f"Bearer {ANA}"}
    proc, base = start_server(root, TOKENS)
    try:
        run_ids = []
        for _ in range(3):
            r = httpx.post(
                f"{base}/api/v1/runs",
                json={"runbook": "runbooks/ask.runbook.yaml", "mode": "real"},
                headers=auth,
            )
            run_ids.append(r.json()["run_id"])
        for run_id in run_ids:
            assert finished(base, run_id)["manifest"]["status"] == "waiting"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    with serving(root, TOKENS) as base:
        for run_id in run_ids:
            assert (
                httpx.get(f"{base}/api/v1/runs/{run_id}", headers=auth).json()["waiting"]["step_id"]
                == "confirm"
            )
            answers = {
                "note": "done",
                "checks": ["logs read"],
                "shot": "shot.png",
                "outcome": "resolved",
            }
            r = httpx.post(
                f"{base}/api/v1/runs/{run_id}/answer",
                json={"step_id": "confirm", "answers": answers},
                headers=auth,
            )
            assert r.status_code == 202, r.text
        for run_id in run_ids:
            run = run_when(
                base,
                run_id,
                lambda s: s not in ("waiting", "running"),
                "the answered run to end",
                timeout=30,
            )
            assert run["manifest"]["outcome"]["state"] == "resolved"
            assert run["verification"]["ok"], run["verification"]
        late = httpx.post(
            f"{base}/api/v1/runs/{run_ids[0]}/answer",
            json={"step_id": "confirm", "answers": {}},
            headers=auth,
        )
        assert late.status_code == 409


def test_runbooks_are_listed_with_their_diagram_and_scenarios(guarded) -> None:
    _, base = guarded
    with signed_in_browser(base, VIC) as browser:
        listed = browser.get("/runbooks", params={"incident": INCIDENT}).text
        assert "login-success-rate-below-target" in listed and "IsReplicaInBuild" in listed
        assert (
            f"/incidents/{INCIDENT}/start?runbook=runbooks/login-success-rate-below-target.runbook.yaml"
            in listed.replace("%2F", "/")
        )
        page = browser.get("/runbook", params={"path": TRIAGE}).text
        assert "<h2>Diagram</h2>" in page and "check_login_failures" in page
        assert "flowchart" in page  # the Mermaid source, to paste
        assert "scenarios/login-success-rate-below-target/no-failures" in page
        assert browser.get("/runbook", params={"path": "../../../etc/passwd"}).status_code == 404
        measured = browser.get("/runbook", params={"path": TRIAGE, "coverage": "1"}).text
        assert "<h3>Coverage</h3>" in measured and " of " in measured


def test_the_postmortem_is_drawn_downloaded_and_written_by_an_operator(guarded) -> None:
    root, base = guarded
    with signed_in_browser(base, VIC) as viewer:
        page = viewer.get(f"/incidents/{INCIDENT}/postmortem").text
        assert "<h2>Executive Summary</h2>" in page and "<svg" in page
        assert "Write it to the project" not in page
        pdf = viewer.get(f"/incidents/{INCIDENT}/postmortem.pdf")
        assert (
            pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
        )
        html = viewer.get(f"/incidents/{INCIDENT}/postmortem.html")
        assert (
            "<h2>Timeline</h2>" in html.text and "attachment" in html.headers["content-disposition"]
        )
    with signed_in_browser(base, ANA) as operator:
        page = operator.get(f"/incidents/{INCIDENT}/postmortem").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        done = operator.post(
            f"/incidents/{INCIDENT}/postmortem", data={"csrf": csrf}, follow_redirects=True
        )
        assert done.status_code == 200 and "Wrote postmortems/" in done.text
    written = sorted((root / "postmortems").glob("post-mortem-*.md"))
    assert written and "Executive Summary" in written[-1].read_text()


APPROVE = """apiVersion: runbook/v0
meta: {name: approve, kind: composable}
steps:
  - {id: leak, type: cli, with: {argv: [echo, 'db password=hunter2hunter2 ok']}, capture: {line: stdout}}
  - id: sign_off
    type: manual
    instructions: Approve the failover.
    approvals: {min: 1}
    outcomes: [{state: resolved}]
"""


def test_only_an_approver_approves_and_secrets_never_show(guarded) -> None:
    """An operator may answer but not approve; an approver approves as themselves. A
    secret a step printed appears in no page and no API answer."""
    root, base = guarded
    (root / "runbooks" / "approve.runbook.yaml").write_text(APPROVE)
    r = httpx.post(
        f"{base}/api/v1/runs",
        json={"runbook": "runbooks/approve.runbook.yaml", "incident_id": INCIDENT, "mode": "real"},
        headers={"Authorization": f"Bearer {ANA}"},
    )
    run_id = r.json()["run_id"]
    assert finished(base, run_id)["waiting"]["approvals"] == 1
    refused = httpx.post(
        f"{base}/api/v1/runs/{run_id}/answer",
        json={"step_id": "sign_off", "answers": {"approved_by": ["bo"]}},  # a typed name counts not
        headers={"Authorization": f"Bearer {ANA}"},
    )
    assert refused.status_code == 403 and "approving needs an approver" in refused.text
    ok = httpx.post(
        f"{base}/api/v1/runs/{run_id}/answer",
        json={"step_id": "sign_off", "answers": {}},
        headers={"Authorization": f"Bearer {BO}"},
    )
    assert ok.status_code == 202, ok.text
    auth = {"Authorization": f"Bearer {BO}"}
    run = run_when(base, run_id, lambda s: s == "completed", "the approved run", timeout=30)
    granted = [e["data"] for e in run["events"] if e["type"] == "approval_granted"]
    assert granted == [{"step_id": "sign_off", "approved_by": ["bo"]}]
    assert run["manifest"]["outcome"]["state"] == "resolved"
    for url in (
        f"/api/v1/runs/{run_id}",
        f"/runs/{run_id}",
        f"/incidents/{INCIDENT}",
        f"/api/v1/incidents/{INCIDENT}",
        f"/incidents/{INCIDENT}/postmortem",
        f"/incidents/{INCIDENT}/postmortem.html",
    ):
        shown = httpx.get(f"{base}{url}", headers=auth).text
        assert "hunter2" not in shown, url


def test_an_upload_over_the_limit_is_refused(guarded) -> None:
    root, base = guarded
    (root / "runbooks" / "ask.runbook.yaml").write_text(ASK)
    r = httpx.post(
        f"{base}/api/v1/runs",
        json={"runbook": "runbooks/ask.runbook.yaml", "incident_id": INCIDENT, "mode": "real"},
        headers={"Authorization": f"Bearer {ANA}"},
    )
    run_id = r.json()["run_id"]
    assert finished(base, run_id)["manifest"]["status"] == "waiting"
    with signed_in_browser(base, ANA) as browser:
        page = browser.get(f"/runs/{run_id}").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        big = b"x" * (10 * 1024 * 1024 + 1)
        r = browser.post(
            f"/runs/{run_id}/answer",
            data={
                "csrf": csrf,
                "step_id": "confirm",
                "ev_note": "n",
                "ev_checks": ["logs read"],
                "outcome": "resolved",
            },
            files={"ev_shot": ("big.bin", big, "application/octet-stream")},
        )
        assert r.status_code == 400 and "larger than 10 MiB" in r.text
    still = httpx.get(
        f"{base}/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {ANA}"}
    ).json()
    assert still["manifest"]["status"] == "waiting"


def test_a_stopped_server_parks_its_runs_and_the_next_one_goes_on(tmp_path: Path) -> None:
    """SIGTERM: a running chain stops before its next step (interrupted by the server's
    stop, nothing run twice); the restarted server resumes it to its end."""
    import os
    import signal

    root = tmp_path / "p"
    (root / "runbooks").mkdir(parents=True)
    (root / "gert.yaml").write_text(
        "record: 'off'\nserver:\n  tokens:\n    - {name: ana, env: GERT_TEST_ANA, role: operator}\n"
    )
    (root / "runbooks" / "slow.runbook.yaml").write_text(
        "apiVersion: runbook/v0\nmeta: {name: slow, kind: composable}\nsteps:\n"
        "  - {id: first, type: cli, with: {argv: [sleep, '1.5']}}\n"
        "  - {id: second, type: cli, with: {argv: [echo, done]}, capture: {out: stdout}}\n"
    )
    auth = {"Authorization": f"Bearer {ANA}"}
    proc, base = start_server(root, TOKENS)
    try:
        r = httpx.post(
            f"{base}/api/v1/runs",
            json={"runbook": "runbooks/slow.runbook.yaml", "mode": "real"},
            headers=auth,
        )
        run_id = r.json()["run_id"]
        wait_for(
            lambda: any(
                e["type"] == "step_started"
                for e in httpx.get(f"{base}/api/v1/runs/{run_id}", headers=auth).json()["events"]
            ),
            what="the first step to start",
        )
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
    row = json.loads(gert("runs", "list", "--json", cwd=root).stdout)[0]
    assert row["status"] == "interrupted"
    parked = (root / ".runbook" / "runs" / run_id / "run.yaml").read_text()
    assert "interrupted (the server stopped)" in parked
    with serving(root, TOKENS) as base:
        run = run_when(
            base,
            run_id,
            lambda s: s == "completed",
            "the parked run to be resumed to its end",
            timeout=30,
        )
    done = [e["data"]["step_id"] for e in run["events"] if e["type"] == "step_completed"]
    assert done == ["first", "second"]  # nothing run twice
    assert run["verification"]["ok"]


def test_a_recorded_scenario_is_replayed_beside_its_recording(guarded) -> None:
    root, base = guarded
    recorded = next(  # the example chain's own recording, whatever else was recorded
        p
        for p in sorted((root / "scenarios").rglob("scenario.yaml"))
        if "chain:" in p.read_text() and "login-success-rate-below-target-" in str(p)
    )
    path = str(recorded.parent.relative_to(root))
    with signed_in_browser(base, ANA) as browser:
        listed = browser.get("/scenarios").text
        assert path in listed and "recorded" in listed and "hand-written" in listed
        page = browser.get("/scenario", params={"path": path}).text
        assert "Not replayed yet." in page and "root_runbook" in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        replayed = browser.post("/scenario/replay", data={"csrf": csrf, "path": path}).text
        assert "Not replayed yet." not in replayed
        side = replayed.split("<h2>Replayed</h2>")[1]
        assert "IsReplicaInBuild" in side and "resolved" in side and "wait_for_build" in side
        assert browser.get("/scenario", params={"path": "../../etc"}).status_code == 404
    with signed_in_browser(base, VIC) as viewer:
        page = viewer.get("/scenario", params={"path": path}).text
        assert "Replay it" not in page


def _doc_commands() -> list[str]:
    """The shell commands of docs/server.md's console blocks that talk to the server,
    one script per block (a command continued with a backslash joined)."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "server.md").read_text()
    scripts = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        commands: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                commands.append(line[2:])
            elif commands and commands[-1].endswith("\\"):
                commands[-1] = commands[-1][:-1] + " " + line.strip()
        if any("curl" in c for c in commands):
            scripts.append("\n".join(commands))
    return scripts


def test_the_curl_examples_of_the_server_doc_work(tmp_path: Path) -> None:
    """Every curl example of docs/server.md, run by bash against a server configured as
    the doc's gert.yaml examples are."""
    import os

    root = triaged_example(tmp_path, 0)
    with (root / "gert.yaml").open("a") as f:
        f.write(
            "server:\n"
            "  alert_secret_env: GERT_ALERT_SECRET\n"
            "  tokens:\n    - {name: ana, env: GERT_TOKEN_ANA, role: operator}\n"
            "routes:\n"
            "  - {match: {alertname: ServiceDown, service: /^bill/}, runbook: runbooks/service-down.runbook.yaml}\n"
            "  - {title: 'disk .* full', runbook: runbooks/disk-full.runbook.yaml, mode: dry-run}\n"
        )
    for name in ("service-down", "disk-full"):
        (root / "runbooks" / f"{name}.runbook.yaml").write_text(
            f"apiVersion: runbook/v0\nmeta: {{name: {name}, kind: composable}}\n"
            "steps:\n  - {id: look, type: cli, with: {argv: [echo, ok]}}\n"
        )
    env = {"GERT_TOKEN_ANA": ANA, "GERT_ALERT_SECRET": ALERT_SECRET}
    commands = _doc_commands()
    assert len(commands) >= 3, commands
    with serving(root, env) as base:
        port = base.rsplit(":", 1)[1]
        for script in commands:
            r = subprocess.run(
                ["bash", "-ec", script.replace("127.0.0.1:8080", f"127.0.0.1:{port}")],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert r.returncode == 0, (script, r.stderr)
            answer = json.loads(r.stdout)
            assert "error" not in answer and "detail" not in answer, (script, answer)
            if "/api/v1/alerts" in script:
                assert answer["alerts"][0]["runbook"] == "runbooks/disk-full.runbook.yaml"


def test_answers_a_step_cannot_take_are_refused_while_it_waits(guarded) -> None:
    """A wrong answer is a 422 naming its field, and the run keeps waiting (it would
    otherwise fail the step for good)."""
    root, base = guarded
    (root / "runbooks" / "ask.runbook.yaml").write_text(ASK)
    auth = {"Authorization": f"Bearer {ANA}"}
    run_id = httpx.post(
        f"{base}/api/v1/runs",
        json={"runbook": "runbooks/ask.runbook.yaml", "incident_id": INCIDENT, "mode": "real"},
        headers=auth,
    ).json()["run_id"]
    assert finished(base, run_id)["manifest"]["status"] == "waiting"

    def answer(step_id: str, answers: dict) -> httpx.Response:
        return httpx.post(
            f"{base}/api/v1/runs/{run_id}/answer",
            json={"step_id": step_id, "answers": answers},
            headers=auth,
        )

    good = {
        "note": "n",
        "checks": ["logs read"],
        "shot": "runbooks/ask.runbook.yaml",
        "outcome": "resolved",
    }
    for wrong, says in (
        ({**good, "outcome": "happy"}, "outcome: one of resolved, escalated"),
        ({**good, "checks": ["foo"]}, "checks: no item 'foo'"),
        ({k: v for k, v in good.items() if k != "note"}, "note: text is required"),
        ({**good, "notes": "x"}, "notes: step 'confirm' asks for no such answer"),
    ):
        r = answer("confirm", wrong)
        assert r.status_code == 422 and says in r.json()["error"], (wrong, r.text)
    r = answer("nope", good)
    assert r.status_code == 409 and "waits at step 'confirm', not 'nope'" in r.json()["error"]
    still = httpx.get(f"{base}/api/v1/runs/{run_id}", headers=auth).json()
    assert still["manifest"]["status"] == "waiting"
    assert sum(1 for e in still["events"] if e["type"] == "run_waiting") == 1  # never resumed
    assert answer("confirm", good).status_code == 202


def test_what_the_walk_found_about_alerts_tokens_and_errors(intake) -> None:
    root, base = intake
    # an alert-started dry-run is on the incident page once dry-runs are asked for, and
    # its trigger is recorded
    body = json.dumps(
        {"title": "disk /data full on db9", "fields": {"host": "db9"}, "fingerprint": "w1"}
    ).encode()
    taken = httpx.post(f"{base}/api/v1/alerts", content=body, headers=signed(body)).json()[
        "alerts"
    ][0]
    run = finished(base, taken["run_id"])
    assert run["manifest"]["triggered_by"]["alert"] == "generic"
    auth = {"Authorization": f"Bearer {ANA}"}
    plain = httpx.get(f"{base}/incidents/{taken['incident_id']}", headers=auth).text
    assert taken["run_id"] not in plain and "show them too" in plain
    every = httpx.get(f"{base}/incidents/{taken['incident_id']}?all=1", headers=auth).text
    assert taken["run_id"] in every
    # an alert that starts nothing says why on its incident, and may be sent again
    body = json.dumps({"title": "disk /x full", "fingerprint": "w2"}).encode()  # no host field
    first = httpx.post(f"{base}/api/v1/alerts", content=body, headers=signed(body)).json()[
        "alerts"
    ][0]
    assert "no value for target" in first["error"]
    timeline = json.loads(gert("incident", "show", first["incident_id"], "--json", cwd=root).stdout)
    assert any("the alert started nothing" in e["text"] for e in timeline["incident"]["timeline"])
    again = httpx.post(f"{base}/api/v1/alerts", content=body, headers=signed(body)).json()[
        "alerts"
    ][0]
    assert "duplicate" not in again and "error" in again
    # a token that names nobody is told so; API errors have one shape
    r = httpx.get(f"{base}/api/v1/whoami", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json() == {"error": "that token names nobody"}
    r = httpx.get(f"{base}/api/v1/incidents/nope-x", headers=auth)
    assert r.status_code == 404 and "error" in r.json()
    r = httpx.get(f"{base}/api/v1/runs/20990101T000000-deadbeef", headers=auth)
    assert r.status_code == 404 and str(root) not in r.text  # no absolute paths shown


def test_a_browser_session_is_signed_not_the_token_and_signs_out(guarded) -> None:
    _, base = guarded
    with signed_in_browser(base, VIC) as browser:
        session = browser.cookies.get("gert_session")
        assert session and VIC not in session and session.startswith("vic:viewer:")
        page = browser.get("/incidents").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        out = browser.post("/logout", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert browser.get("/incidents", follow_redirects=False).status_code == 303
    forged = httpx.get(
        f"{base}/incidents", cookies={"gert_session": "vic:approver:0000"}, follow_redirects=False
    )
    assert forged.status_code == 303  # a session this server did not sign is nobody


def test_serve_says_what_in_its_set_up_cannot_work(tmp_path: Path) -> None:
    (tmp_path / "gert.yaml").write_text(
        "server:\n  tokens:\n    - {name: ana, env: A}\n    - {name: ana, env: B}\n"
    )
    r = gert("serve", "--port", str(free_port()), cwd=tmp_path)
    assert r.returncode == 2 and "two tokens have the name 'ana'" in r.stderr
    (tmp_path / "gert.yaml").write_text(
        "routes: [{title: x, runbook: runbooks/gone.runbook.yaml}]\n"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = gert("serve", "--port", str(port), cwd=tmp_path)
    assert r.returncode == 2
    assert "routes[0]: no runbook runbooks/gone.runbook.yaml" in r.stderr
    # stderr is not a terminal here: JSON lines (tests/test_logs.py has the terminal's text)
    refused = [json.loads(line) for line in r.stderr.splitlines()][-1]
    assert refused["level"] == "error"
    assert refused["message"].startswith(f"cannot listen on 127.0.0.1:{port}")
    assert "gert serve: http" not in r.stderr  # never claims to serve
