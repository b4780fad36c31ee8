"""gert postmortem: a blameless draft built from an incident's evidence."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from gert.incident.local import LocalProvider
from gert.store import RunFolder
from gert.store.trace import read_events
from helpers import gert

STANDARD_SECTIONS = [
    "Executive Summary",
    "Impact",
    "Timeline",
    "Root Cause Analysis",
    "Detection and Response",
    "Resolution",
    "Lessons Learned",
    "Action Items",
    "Prevention Measures",
    "Supporting Data",
    "Follow-up",
    "Communication",
    "Appendices",
    "Sign-off",
    "Revision History",
    "Post-Mortem Quality Checklist",
]


@pytest.fixture
def incident(project, monkeypatch):
    """Incident 900 with a three-runbook chain: a failed step (continued), manual evidence,
    and an escalation with no runbook to chain to; a secret in a command's output."""
    monkeypatch.setenv("PM_TOKEN", "tok-zz99yy88")
    LocalProvider(project.root / ".runbook" / "incidents").create(
        "900", "API errors on checkout", severity=1, custom_fields={"Service": "checkout"}
    )
    project.write(
        "triage.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: triage, inputs: {token: {from: env.PM_TOKEN, secret: true}}}
        steps:
          - {id: flaky_probe, type: cli, continue_on_fail: true, with: {argv: [sh, -c, 'echo down; exit 2']}, assertions: [{exit_code: 0}]}
          - id: errors
            type: cli
            with: {argv: [sh, -c, 'echo "rate=37 token={{ .token }}"']}
            capture: {rate: {from: stdout, pattern: 'rate=(\\d+)'}}
            outcomes: [{when: rate > 10, state: needs_rca, next_runbook: {file: db}}]
        """,
    )
    project.write(
        "db.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: db}
        steps:
          - id: check_pool
            type: manual
            instructions: Look at the connection pool.
            required_evidence: [{kind: text, name: pool}]
            outcomes: [{state: needs_rca, next_runbook: {file: escalate}}]
        """,
    )
    project.write(
        "escalate.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: escalate}
        steps:
          - {id: page, type: cli, with: {argv: [echo, paging db team]}, outcomes: [{state: escalated, recommendation: Page the database on-call}]}
        """,
    )
    project.config("record: 'off'\n")
    chain = project.run(
        "triage.runbook.yaml",
        incident_id="900",
        answers={"check_pool": {"pool": "exhausted: 100/100"}},
    )
    assert [r.state for r in chain.runs] == ["needs_rca", "needs_rca", "escalated"]
    LocalProvider(project.root / ".runbook" / "incidents").set_status("900", "resolved")
    return project, chain


def generate(project, *extra):  # type: ignore[no-untyped-def]
    r = gert("postmortem", "900", "--no-input", *extra, cwd=project.root)
    assert r.returncode == 0, r.stderr
    [path] = (project.root / "postmortems").glob("post-mortem-*-api-errors-on-checkout.md")
    return path, r


def test_every_standard_section_in_order(incident):
    project, _ = incident
    path, _ = generate(project)
    text = path.read_text()
    headings = re.findall(r"(?m)^## (.+)$", text)
    assert headings == STANDARD_SECTIONS
    assert text.startswith("# Post-Mortem: API errors on checkout\n")
    assert "**Severity:** SEV-1" in text and "**Status:** Draft" in text


def test_timeline_rows_are_sorted_and_carry_real_timestamps(incident):
    project, chain = incident
    text = generate(project)[0].read_text()
    rows = [line for line in text.splitlines() if re.match(r"^\| \d\d:\d\d:\d\d \|", line)]
    times = [r.split("|")[1].strip() for r in rows]
    assert times == sorted(times) and len(rows) >= 12
    started = next(
        e for e in read_events(chain.runs[0].folder / "trace.jsonl") if e["type"] == "run_started"
    )
    hms = dt.datetime.fromisoformat(started["ts"].replace("Z", "+00:00")).strftime("%H:%M:%S")
    assert (
        f"| {hms} | Runbook triage started (real mode) | On-call engineer | run {chain.runs[0].run_id} |"
        in text
    )
    assert (
        "| Alert triggered, incident opened: API errors on checkout | Monitoring | incident timeline | detection |"
        in text
    )
    assert re.search(
        r"\| Step flaky_probe failed.*\| gert \| run \S+, steps/001-flaky_probe.json \|", text
    )
    assert "| Manual evidence recorded for check_pool | On-call engineer |" in text


def test_metrics_equal_hand_computed_values(incident):
    project, chain = incident
    text = generate(project)[0].read_text()
    inc = LocalProvider(project.root / ".runbook" / "incidents").get("900")
    opened = dt.datetime.fromisoformat(inc["created_at"].replace("Z", "+00:00"))
    first = dt.datetime.fromisoformat(
        RunFolder(chain.runs[0].folder).read_manifest()["started_at"].replace("Z", "+00:00")
    )
    resolved = dt.datetime.fromisoformat(inc["resolved_at"].replace("Z", "+00:00"))
    respond = (first - opened).total_seconds()
    resolve = (resolved - opened).total_seconds()
    assert f"**Time to Respond (TTR):** {round(respond)} s" in text
    assert f"**Time to Resolve:** {round(resolve)} s" in text
    assert "(incident opened " + inc["created_at"][:19] in text


def test_action_items_come_from_the_evidence(incident):
    project, _ = incident
    text = generate(project)[0].read_text()
    items = [line for line in text.splitlines() if line.startswith("| AI-")]
    joined = "\n".join(items)
    assert "Write a runbook for what 'escalate' escalated (Page the database on-call)" in joined
    assert "Make step 'flaky_probe' of 'triage' reliable" in joined
    assert "Consider automating manual step 'check_pool' of 'db'" in joined
    assert all("| unassigned |" in line for line in items)
    assert {line.split("|")[3].strip() for line in items} <= {"mitigate", "prevent", "process"}


def test_regeneration_keeps_a_hand_edited_section_and_tracking_is_not_duplicated(incident):
    project, _ = incident
    path, _ = generate(project)
    text = path.read_text()
    edited = text.replace(
        "### Technical Lessons\n1. [to be confirmed]",
        "### Technical Lessons\n1. Pools need alerts.",
    )
    path.write_text(edited)
    _, r = generate(project)
    assert "kept the sections a person had written" in r.stdout
    assert "1. Pools need alerts." in path.read_text()
    tracking = (project.root / "POST_MORTEM_TRACKING.md").read_text()
    assert tracking.count(path.stem) == 1 and "| SEV-1 |" in tracking
    generate(project, "--force")
    assert "Pools need alerts" not in path.read_text()


def test_answers_fill_questions_and_blame_is_flagged(incident, tmp_path):
    project, _ = incident
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "impact: Performance degradation\nroot_cause: It was Bob's fault, careless deploy\n"
    )
    path, r = generate(project, "--answers", str(answers))
    text = path.read_text()
    assert "Primary impact: Performance degradation." in text
    assert "blameless check" in r.stderr
    assert "- [ ] No blame is assigned to individuals" in text
    assert "**Blameless review:**" in text


def test_secrets_never_reach_the_postmortem(incident):
    project, _ = incident
    text = generate(project)[0].read_text()
    assert "tok-zz99yy88" not in text and "token=***" in text


def test_unknown_incident_is_a_clear_error(project):
    r = gert("postmortem", "nope", "--no-input", cwd=project.root)
    assert r.returncode == 1 and "no incident nope" in r.stderr and "Traceback" not in r.stderr


def test_related_incidents_by_same_cause(incident):
    project, _ = incident
    LocalProvider(project.root / ".runbook" / "incidents").create("901", "Checkout again")
    project.run("escalate.runbook.yaml", incident_id="901")
    text = generate(project)[0].read_text()
    related = text.split("### Related Incidents")[1].split("##")[0]
    assert "- [901] - reached the same cause (escalate: escalated); also ran escalate" in related


def test_html_is_a_standalone_page_with_the_chain_drawn(incident, tmp_path):
    project, chain = incident
    answers = tmp_path / "answers.yaml"
    answers.write_text("impact: <script>alert(1)</script>\n")
    path, r = generate(project, "--answers", str(answers), "--format", "html")
    page = path.with_suffix(".html")
    assert f"wrote postmortems/{page.name}" in r.stdout
    html = page.read_text()
    assert (
        html.startswith("<!DOCTYPE html>") and "<title>Post-Mortem: API errors on checkout" in html
    )
    assert re.findall(r"<h2>(.+?)</h2>", html) == STANDARD_SECTIONS
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert svg.count("<rect") == 3 and svg.count("<line") == 2  # three runs, two hand-offs
    for run in chain.runs:
        assert run.run_id in svg
    assert [m for m in re.findall(r">(triage|db|escalate)<", svg)] == ["triage", "db", "escalate"]
    # Nothing a person or a step output wrote becomes markup; nothing is fetched.
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "tok-zz99yy88" not in html and "<table>" in html


@pytest.mark.slow
def test_pdf_renders_to_pages(incident, tmp_path):
    import subprocess

    project, chain = incident
    path, _ = generate(project, "--format", "pdf", "--format", "html")
    pdf = path.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF-") and path.with_suffix(".html").exists()
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3 and all(p.stat().st_size > 1000 for p in pages)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Post-Mortem: API errors on checkout" in text
    for heading in STANDARD_SECTIONS:
        assert heading in text
    assert chain.runs[2].run_id in text  # drawn in the chain's last box
    assert "tok-zz99yy88" not in text


def test_pdf_without_fonts_is_a_clear_error(incident, monkeypatch):
    from gert import postmortem
    from gert.postmortem import formats as postmortem_formats

    monkeypatch.setattr(postmortem_formats, "FONT_DIRS", ())
    pm = postmortem.Postmortem("900", {"title": "t"}, [], {})
    with pytest.raises(postmortem.RenderError, match="fonts-dejavu-core"):
        postmortem_formats.to_pdf(pm, "# t\n")


def test_long_stretches_of_passed_steps_fold_into_one_cited_row(project):
    steps = "\n".join(
        f"  - {{id: s{i}, type: cli, with: {{argv: [sh, -c, 'echo out{i}; exit {2 if i == 10 else 0}']}}, continue_on_fail: true, assertions: [{{exit_code: 0}}]}}"
        for i in range(14)
    )
    project.write(
        "long.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: long, kind: composable}\nsteps:\n" + steps + "\n",
    )
    project.config("record: 'off'\n")
    LocalProvider(project.root / ".runbook" / "incidents").create("77", "Long run")
    chain = project.run("long.runbook.yaml", incident_id="77")
    r = gert("postmortem", "77", "--no-input", cwd=project.root)
    assert r.returncode == 0, r.stderr
    text = next((project.root / "postmortems").glob("*.md")).read_text()
    run_id = chain.runs[0].run_id
    # s0..s9 pass (folded), s10 fails (its own row), s11..s13 pass (too few to fold).
    assert (
        f"| Steps s0 to s9 passed (10 steps; captures under Supporting Data) | gert | "
        f"run {run_id}, steps/001-s0.json to steps/010-s9.json |" in text
    )
    assert "| Step s10 failed" in text and "| Step s12 passed" in text
    assert "| Step s3 passed" not in text
    logs = text.split("### Logs")[1].split("### Related Incidents")[0]
    assert logs.index("`s10`") < logs.index("`s0`")  # the failure's output comes first
    assert logs.count("```\n") == 2 * 5 and f"(9 more step outputs of run {run_id}" in logs


def test_gert_writes_no_blame_and_names_roles_not_people(project):
    project.write(
        "solo.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: solo}
        steps:
          - {id: probe, type: cli, with: {argv: [sh, -c, 'exit 3']}, continue_on_fail: true, assertions: [{exit_code: 0}]}
          - {id: done, type: cli, with: {argv: [echo, ok]}, outcomes: [{state: escalated, recommendation: Page the owner}]}
        """,
    )
    project.config("record: 'off'\n")
    LocalProvider(project.root / ".runbook" / "incidents").create("5", "Disk full")
    project.run("solo.runbook.yaml", incident_id="5", actor="alice.smith")
    r = gert("postmortem", "5", "--no-input", cwd=project.root)
    assert r.returncode == 0, r.stderr
    text = next((project.root / "postmortems").glob("*.md")).read_text()
    from gert.postmortem import BLAME

    # Everything gert wrote (the checklist's own wording, "No blame is assigned").
    assert BLAME.search(text.split("## Post-Mortem Quality Checklist")[0]) is None
    assert "alice" not in text.lower() and "| On-call engineer |" in text
    assert "- [x] No blame is assigned to individuals" in text


@pytest.mark.slow
def test_renderings_fetch_and_embed_nothing(project, tmp_path):
    # Images from an incident title or a step's output stay text: the HTML page has no
    # <img> (and a CSP that forbids fetching), the PDF embeds no image and does not fail.
    from PIL import Image

    Image.new("RGB", (4, 4), "red").save(project.root / "private-screenshot.png")
    LocalProvider(project.root / ".runbook" / "incidents").create(
        "950",
        "disk full ![x](private-screenshot.png) ![y](http://attacker.example/t.png)",
        severity=2,
    )
    project.write(
        "img.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: img}
        steps:
          - id: out
            type: cli
            with: {argv: [echo, "| a | ![z](/etc/passwd) |\\n|---|---|\\n| ![w](http://10.0.0.1/x.png) | b |"]}
            outcomes: [{state: resolved, recommendation: "see ![r](private-screenshot.png)"}]
        """,
    )
    project.run("img.runbook.yaml", incident_id="950")
    r = gert(
        "postmortem", "950", "--no-input", "--format", "html", "--format", "pdf", cwd=project.root
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    md = next((project.root / "postmortems").glob("*.md"))
    html = md.with_suffix(".html").read_text()
    assert "<img" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    pdf = md.with_suffix(".pdf").read_bytes()
    assert b"/Subtype /Image" not in pdf
