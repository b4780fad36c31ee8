"""Chains on gert worker processes: real Redis, real PostgreSQL, real worker processes.

Queued chains run, hand-offs are tasks of their own, a manual step parks the run and an
answer queues it again, and a worker killed at any moment loses nothing: another takes
its runs over from their traces, never repeating a completed step.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from helpers import ProjectDir

pytestmark = pytest.mark.slow

CHAIN = {
    "triage.runbook.yaml": """
        apiVersion: runbook/v0
        meta:
          name: triage
          inputs: {{tag: {{from: prompt}}}}
        steps:
          - id: look
            type: cli
            with: {{argv: [sh, -c, 'echo look-{{{{ .tag }}}} >> {counter}; sleep {pause}']}}
            outcomes:
              - state: needs_rca
                next_runbook: {{file: fix.runbook.yaml, inputs: {{tag: "{{{{ .tag }}}}"}}}}
        """,
    "fix.runbook.yaml": """
        apiVersion: runbook/v0
        meta:
          name: fix
          kind: mitigation
          inputs: {{tag: {{from: parent}}}}
        steps:
          - id: restart
            type: cli
            with: {{argv: [sh, -c, 'echo restart-{{{{ .tag }}}} >> {counter}; sleep {pause}']}}
          - id: drain
            type: cli
            idempotent: true
            with: {{argv: [sh, -c, 'echo drain-{{{{ .tag }}}} >> {counter}; sleep {pause}']}}
            outcomes:
              - state: needs_rca
                next_runbook: {{file: check.runbook.yaml, inputs: {{tag: "{{{{ .tag }}}}"}}}}
        """,
    "check.runbook.yaml": """
        apiVersion: runbook/v0
        meta:
          name: check
          kind: mitigation
          inputs: {{tag: {{from: parent}}}}
        steps:
          - id: confirm
            type: cli
            with: {{argv: [sh, -c, 'echo confirm-{{{{ .tag }}}} >> {counter}; sleep {pause}']}}
            outcomes:
              - state: resolved
                recommendation: fixed
        """,
}

CHAINS, KILLS = 30, 20  # the fault injection: chains queued first, workers killed

MANUAL = """
apiVersion: runbook/v0
meta: {name: ask}
steps:
  - id: look
    type: manual
    instructions: Look at the dashboard.
    required_evidence:
      - {kind: text, name: link}
    outcomes:
      - state: resolved
        recommendation: looked
"""


class Fleet:
    """A project whose runs live in PostgreSQL and run on gert worker processes."""

    def __init__(self, root: Path, database: str, broker: str, lease: float = 3):
        root.mkdir(parents=True, exist_ok=True)
        self.project = ProjectDir(root)
        self.root = root
        self.database = database
        self.env = {
            **os.environ,
            "GERT_DATABASE_URL": database,
            "GERT_BROKER_URL": broker,
            "PYTHONUNBUFFERED": "1",
        }
        (root / "gert.yaml").write_text(
            "record: off\nincident: {post: off}\n"
            "store: {backend: postgresql}\n"
            f"queue: {{lease_seconds: {lease}}}\n",
            encoding="utf-8",
        )
        self.workers: list[subprocess.Popen[str]] = []

    def gert(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gert.cli", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def enqueue(self, runbook: str, **variables: str) -> str:
        """Queue a chain from this process, through the library (many at once, fast)."""
        from unittest import mock

        from gert.project import open_project
        from gert.queue import enqueue_chain

        with mock.patch.dict(os.environ, self.env):
            return enqueue_chain(
                open_project(self.root), str(self.root / runbook), variables=variables
            ).run_id

    def answer(self, run_id: str, **decisions: tuple[str, ...]) -> None:
        """Queue a parked run to go on with a person's decision, through the library."""
        from unittest import mock

        from gert.project import open_project
        from gert.queue import enqueue_answer

        with mock.patch.dict(os.environ, self.env):
            enqueue_answer(open_project(self.root), run_id, **decisions)

    def start_worker(self, concurrency: int = 2) -> subprocess.Popen[str]:
        n = len(self.workers)
        banner = open(self.root / f"worker-{n}.out", "w")  # noqa: SIM115
        log = open(self.root / f"worker-{n}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "gert.cli", "worker", "-c", str(concurrency)],
            cwd=self.root,
            env=self.env,
            stdout=banner,
            stderr=log,
            text=True,
        )
        self.workers.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    def sql(self, query: str, args: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.database, autocommit=True) as conn:
            return conn.execute(query, args).fetchall()


@pytest.fixture
def fleet(tmp_path, pg_store_url, redis_server):
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    f = Fleet(tmp_path / "project", pg_store_url, redis_server.url)
    yield f
    f.stop()


def wait_until_idle(fleet: Fleet, seconds: float) -> None:
    """Until no work is queued or taken (or fail after *seconds*)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if fleet.sql("SELECT count(*) FROM gert_work WHERE state IN ('queued', 'taken')") == [(0,)]:
            return
        time.sleep(0.3)
    raise AssertionError(fleet.sql("SELECT run_id, state, note FROM gert_work"))


def write_chain(fleet: Fleet, pause: float = 0.05) -> Path:
    counter = fleet.root / "counter"
    for name, text in CHAIN.items():
        fleet.project.write(name, text.format(counter=counter, pause=pause))
    return counter


def test_a_queued_chain_runs_on_workers_one_task_per_runbook(fleet):
    write_chain(fleet)
    fleet.start_worker()
    queued = fleet.gert("exec", "triage.runbook.yaml", "--var", "tag=a", "--queue")
    assert queued.returncode == 0, queued.stderr
    run_id = queued.stdout.strip()
    waited = fleet.gert("runs", "wait", run_id, "--timeout", "60")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert "✓ look" in waited.stdout and "✓ confirm" in waited.stdout
    assert "final state: resolved" in waited.stdout
    # Three tasks: the root run, and each hand-off queued under the run that hands off.
    work = fleet.sql("SELECT run_id, state, attempts FROM gert_work ORDER BY enqueued_at")
    assert [w[1] for w in work] == ["done", "done"] and sum(w[2] for w in work) == 3
    listed = json.loads(fleet.gert("runs", "list", "--json").stdout)
    assert sorted(r["runbook_name"] for r in listed) == ["check", "fix", "triage"]
    for r in listed:
        verified = fleet.gert("trace", "verify", r["run_id"])
        assert verified.returncode == 0 and ": ok (" in verified.stdout, verified.stdout
    status = json.loads(fleet.gert("status", "--json").stdout)
    assert status["queued"] == 0 and len(status["workers"]) == 1
    # not on a terminal, the worker logs JSON lines: one object each, its work named
    lines = (fleet.root / "worker-0.log").read_text().splitlines()
    logged = [json.loads(line) for line in lines if line.strip()]
    assert {"ts", "level", "logger", "message"} <= set(logged[0])
    done = [e for e in logged if e.get("event") in ("work_done", "work_handed_off")]
    assert {e["run_id"] for e in done} == {w[0] for w in work}


def test_a_manual_step_parks_the_run_and_an_answer_queues_it_again(fleet, tmp_path):
    fleet.project.write("ask.runbook.yaml", MANUAL)
    fleet.start_worker()
    run_id = fleet.gert("exec", "ask.runbook.yaml", "--queue").stdout.strip()
    waited = fleet.gert("runs", "wait", run_id, "--timeout", "60")
    assert waited.returncode == 4, waited.stdout + waited.stderr
    assert f"gert answer {run_id} --evidence FILE" in waited.stdout
    # parked: the worker is free (nothing taken), the run waits in the store
    assert fleet.sql("SELECT state FROM gert_work") == [("done",)]
    assert json.loads(fleet.gert("status", "--json").stdout)["runs"]["waiting"] == 1
    answers = tmp_path / "answers.yaml"
    answers.write_text("look:\n  link: https://dash/1\n  outcome: resolved\n")
    given = fleet.gert("answer", run_id, "--evidence", str(answers))
    assert given.returncode == 0, given.stderr
    waited = fleet.gert("runs", "wait", run_id, "--timeout", "60")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert "final state: resolved" in waited.stdout


def test_a_waiting_run_survives_a_restart_of_workers_and_redis(fleet, redis_server, tmp_path):
    fleet.project.write("ask.runbook.yaml", MANUAL)
    fleet.start_worker()
    run_id = fleet.gert("exec", "ask.runbook.yaml", "--queue").stdout.strip()
    assert fleet.gert("runs", "wait", run_id, "--timeout", "60").returncode == 4
    fleet.stop()
    redis_server.stop()
    redis_server.start()  # empty: nothing of the run was in the broker
    fleet.workers = []
    fleet.start_worker()
    answers = tmp_path / "answers.yaml"
    answers.write_text("look:\n  link: https://dash/1\n  outcome: resolved\n")
    assert fleet.gert("answer", run_id, "--evidence", str(answers)).returncode == 0
    waited = fleet.gert("runs", "wait", run_id, "--timeout", "60")
    assert waited.returncode == 0, waited.stdout


def test_an_unknown_runbook_or_missing_input_is_refused_before_queueing(fleet):
    write_chain(fleet)
    missing = fleet.gert("exec", "triage.runbook.yaml", "--queue")
    assert missing.returncode == 2 and "tag" in missing.stderr
    assert "Traceback" not in missing.stderr
    typo = fleet.gert("exec", "triag.runbook.yaml", "--queue", "--var", "tag=x")
    assert typo.returncode != 0 and "Traceback" not in typo.stderr
    assert fleet.sql("SELECT count(*) FROM gert_work") == [(0,)]


def test_workers_killed_at_random_moments_lose_nothing_and_repeat_no_completed_step(fleet):
    """SIGKILL a random worker at 20 random moments while 30 three-runbook chains run
    on two workers (a replacement starts after each kill): every chain finishes or parks with
    a reason, every trace verifies, and no completed step ran twice."""
    counter = write_chain(fleet, pause=0.4)
    rng = random.Random(74787016)
    chains = []
    for n in range(CHAINS):  # all queued first: the kills fall while the chains run
        chains.append(fleet.enqueue("triage.runbook.yaml", tag=f"c{n}"))
    fleet.start_worker(2)
    fleet.start_worker(2)
    kills = 0
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        open_work = fleet.sql("SELECT count(*) FROM gert_work WHERE state IN ('queued', 'taken')")
        if open_work == [(0,)]:
            if kills >= KILLS:
                break
            for _ in range(5):  # all ended before every kill fell: more chains to kill in
                chains.append(fleet.enqueue("triage.runbook.yaml", tag=f"c{len(chains)}"))
        if kills < KILLS:
            # A random moment while a worker holds work: kill that worker.
            time.sleep(rng.uniform(0.1, 1.0))
            busy = {
                int(w[0].split(":")[1])
                for w in fleet.sql("SELECT worker FROM gert_work WHERE state = 'taken'")
            }
            alive = [w for w in fleet.workers if w.poll() is None and w.pid in busy]
            if not alive:
                continue
            victim = rng.choice(alive)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            kills += 1
            fleet.start_worker(2)
        else:
            time.sleep(0.5)
    assert kills == KILLS, f"the chains ended after {kills} kills"
    states = dict(fleet.sql("SELECT state, count(*) FROM gert_work GROUP BY state"))
    assert not states.get("queued") and not states.get("taken"), states
    parked = fleet.sql("SELECT run_id, note FROM gert_work WHERE state = 'parked'")
    for run_id, note in parked:
        assert "--retry-step" in note or "was running" in note, (run_id, note)
    # each parked run is recorded as interrupted: its trace says its worker died mid-step
    stopped = fleet.sql(
        "SELECT r.run_id, e.line FROM gert_runs r JOIN gert_trace_events e USING (run_id) "
        "WHERE r.status = 'interrupted' AND e.type = 'run_interrupted'"
    )
    assert len(stopped) == len(parked), (stopped, parked)
    assert all("its worker stopped while a step ran" in line for _, line in stopped)
    # Every chain either reached its end (check: resolved) or parked with its reason.
    rows = fleet.sql("SELECT run_id, runbook_name, status, state FROM gert_runs")
    ended = {r[0] for r in rows if r[1] == "check" and r[3] == "resolved"}
    assert len(ended) + len(parked) >= len(chains), (len(ended), parked)
    # No completed step ran twice; a step marked idempotent may run again if it was in
    # flight when its worker died (at-least-once), the others never (at-most-once).
    lines = Counter(counter.read_text().split())
    for line, times in lines.items():
        if line.startswith("drain-"):
            assert times <= 1 + kills, (line, times)
        else:
            assert times == 1, (line, times)
    completed = fleet.sql(
        "SELECT run_id, line FROM gert_trace_events WHERE type = 'step_completed'"
    )
    seen = Counter()
    for run_id, line in completed:
        data = json.loads(line)["data"]
        if data.get("status") == "passed":
            seen[(run_id, data["step_id"])] += 1
    assert all(n == 1 for n in seen.values()), [k for k, n in seen.items() if n > 1]
    resumed = fleet.sql("SELECT count(*) FROM gert_trace_events WHERE type = 'run_resumed'")
    print(
        f"\nfault injection: {kills} kills over {len(chains)} chains: {len(ended)} ended, {len(parked)} parked "
        f"for a decision, {resumed[0][0]} runs taken over, "
        f"{sum(1 for k, v in lines.items() if v > 1)} idempotent steps run again"
    )
    # A person decides for each parked run (here: run the step again; its outcome is
    # what the chain goes on with), and every chain then reaches its end.
    import re

    for run_id, note in parked:
        step = re.search(r"--retry-step (\S+)", note).group(1)
        fleet.answer(run_id, retry_steps=(step,))
    wait_until_idle(fleet, 90)
    rows = fleet.sql("SELECT run_id, runbook_name, status, state FROM gert_runs")
    assert len([r for r in rows if r[1] == "check" and r[3] == "resolved"]) == len(chains), (
        fleet.sql("SELECT run_id, kind, state, note, attempts FROM gert_work"),
        fleet.sql("SELECT run_id, runbook_name, status, state, parent_run_id FROM gert_runs"),
    )
    listed = json.loads(
        fleet.gert("runs", "list", "--runbook", "triage", "--limit", "0", "--json").stdout
    )
    assert len(listed) == len(chains)
    every = [r[0] for r in fleet.sql("SELECT run_id FROM gert_runs WHERE manifest IS NOT NULL")]
    verified = fleet.gert("trace", "verify", *every)
    assert verified.returncode == 0 and verified.stdout.count(": ok (") == len(every)


def test_a_redis_restart_mid_run_loses_no_chain(fleet, redis_server):
    write_chain(fleet, pause=0.3)
    chains = [
        fleet.gert("exec", "triage.runbook.yaml", "--var", f"tag=r{n}", "--queue").stdout.strip()
        for n in range(6)
    ]
    fleet.start_worker(2)
    time.sleep(3)  # some chains run, some wait in the broker
    redis_server.stop()
    time.sleep(1)
    redis_server.start()  # empty: the broker's messages are gone
    wait_until_idle(fleet, 90)
    for run_id in chains:
        waited = fleet.gert("runs", "wait", run_id, "--timeout", "30")
        assert waited.returncode in (0, 2), waited.stdout
    rows = fleet.sql("SELECT runbook_name, state FROM gert_runs")
    parked = fleet.sql("SELECT count(*) FROM gert_work WHERE state = 'parked'")[0][0]
    assert rows.count(("check", "resolved")) + parked == 6


def test_a_postgresql_restart_mid_run_loses_no_chain(fleet, postgres_cluster):
    write_chain(fleet, pause=0.3)
    chains = [
        fleet.gert("exec", "triage.runbook.yaml", "--var", f"tag=p{n}", "--queue").stdout.strip()
        for n in range(6)
    ]
    fleet.start_worker(2)
    time.sleep(3)
    postgres_cluster.stop("fast")
    time.sleep(2)
    postgres_cluster.start()
    wait_until_idle(fleet, 120)
    parked = dict(fleet.sql("SELECT run_id, note FROM gert_work WHERE state = 'parked'"))
    rows = fleet.sql("SELECT runbook_name, state FROM gert_runs")
    assert rows.count(("check", "resolved")) + len(parked) == 6, (rows, parked)
    for run_id in chains:
        assert fleet.gert("trace", "verify", run_id).returncode == 0


PAIR = {
    "page.runbook.yaml": """
        apiVersion: runbook/v0
        meta:
          name: page
          inputs: {n: {from: prompt}}
        steps:
          - id: look
            type: cli
            with: {argv: [echo, '{{ .n }}']}
            capture: {seen: stdout}
            outcomes:
              - when: seen == "0"
                state: no_action
              - state: needs_rca
                next_runbook: {file: act.runbook.yaml, inputs: {n: "{{ .n }}"}}
        """,
    "act.runbook.yaml": """
        apiVersion: runbook/v0
        meta:
          name: act
          kind: mitigation
          inputs: {n: {from: parent}}
        steps:
          - id: act
            type: cli
            with: {argv: [echo, 'acting on {{ .n }}']}
            outcomes:
              - state: resolved
        """,
}


def test_two_hundred_chains_across_three_workers_all_finish_and_verify(fleet):
    for name, text in PAIR.items():
        fleet.project.write(name, text)
    for _ in range(3):
        fleet.start_worker(2)
    roots = [fleet.enqueue("page.runbook.yaml", n=str(n % 10)) for n in range(200)]
    wait_until_idle(fleet, 240)
    listed = json.loads(
        fleet.gert("runs", "list", "--runbook", "page", "--limit", "0", "--json").stdout
    )
    assert sorted(r["run_id"] for r in listed) == sorted(roots)
    outcomes = Counter(r["state"] for r in listed)
    assert outcomes == {"no_action": 20, "needs_rca": 180}
    children = fleet.sql(
        "SELECT count(*) FROM gert_runs WHERE runbook_name = 'act' AND state = 'resolved'"
    )
    assert children == [(180,)]
    every = [r[0] for r in fleet.sql("SELECT run_id FROM gert_runs")]
    verified = fleet.gert("trace", "verify", *every)
    assert verified.returncode == 0 and verified.stdout.count(": ok (") == 380
    # the work went to every worker
    workers = fleet.sql("SELECT count(DISTINCT split_part(worker, ':', 2)) FROM gert_work")
    assert workers[0][0] >= 3


def test_gert_serve_queues_chains_for_the_workers_and_its_metrics_see_them(fleet):
    import httpx2 as httpx

    from test_server import start_server

    write_chain(fleet)
    with (fleet.root / "gert.yaml").open("a") as f:
        f.write("server:\n  tokens:\n    - {name: ana, env: GERT_TEST_ANA, role: operator}\n")
    fleet.env["GERT_TEST_ANA"] = "ana-token-0123456789abcdef"
    auth = {"Authorization": "Bearer ana-token-0123456789abcdef"}
    fleet.start_worker()
    proc, base = start_server(fleet.root, fleet.env)
    try:
        r = httpx.post(
            f"{base}/api/v1/runs",
            json={"runbook": "triage.runbook.yaml", "mode": "real", "variables": {"tag": "s"}},
            headers=auth,
            timeout=30,
        )
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        assert run_id
        waited = fleet.gert("runs", "wait", run_id, "--timeout", "60")
        assert waited.returncode == 0, waited.stdout
        page = httpx.get(f"{base}/runs/{run_id}", headers=auth, timeout=10)
        assert page.status_code == 200 and "triage" in page.text
        metrics = httpx.get(f"{base}/metrics", headers=auth, timeout=10).text
        assert 'gert_runs_finished_total{outcome="resolved",runbook="check"} 1.0' in metrics
        assert "gert_queue_depth 0.0" in metrics
        # four steps completed in the chain, each counted by its runbook
        assert 'gert_step_duration_seconds_count{runbook="fix"} 2.0' in metrics
        assert 'gert_step_duration_seconds_count{runbook="triage"} 1.0' in metrics
        # a run queued with no worker to take it: the page says so
        fleet.stop()
        fleet.workers = []
        r = httpx.post(
            f"{base}/api/v1/runs",
            json={"runbook": "triage.runbook.yaml", "mode": "real", "variables": {"tag": "q"}},
            headers=auth,
            timeout=30,
        )
        queued = httpx.get(f"{base}/runs/{r.json()['run_id']}", headers=auth, timeout=10)
        assert queued.status_code == 200 and "no worker has started it yet" in queued.text
        api = httpx.get(f"{base}/api/v1/runs/{r.json()['run_id']}", headers=auth, timeout=10)
        assert api.status_code == 200 and api.json()["status"] == "queued"
        assert "gert_queue_depth 1.0" in httpx.get(f"{base}/metrics", headers=auth, timeout=10).text
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_runbook_limit_keeps_an_alert_storm_to_one_remediation_at_a_time(fleet):
    fleet.project.write(
        "restart.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: restart, inputs: {{n: {{from: prompt}}}}}}
        steps:
          - id: restart
            type: cli
            with: {{argv: [sh, -c, 'echo start >> {fleet.root}/log; sleep 0.5; echo end >> {fleet.root}/log']}}
            outcomes: [{{state: resolved}}]
        """,
    )
    text = (
        (fleet.root / "gert.yaml")
        .read_text()
        .replace(
            "queue: {lease_seconds: 3}", "queue: {lease_seconds: 3, max_concurrent_per_runbook: 1}"
        )
    )
    (fleet.root / "gert.yaml").write_text(text)
    fleet.start_worker(2)
    fleet.start_worker(2)
    for n in range(6):
        fleet.enqueue("restart.runbook.yaml", n=str(n))
    most = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        taken = fleet.sql("SELECT count(*) FROM gert_work WHERE state = 'taken'")[0][0]
        most = max(most, taken)
        if fleet.sql("SELECT count(*) FROM gert_work WHERE state <> 'done'") == [(0,)]:
            break
        time.sleep(0.05)
    assert most == 1
    # never two at once: every start is followed by its end before the next start
    assert (fleet.root / "log").read_text().split() == ["start", "end"] * 6


def test_a_parked_or_waiting_run_can_be_aborted_by_a_person(fleet, tmp_path):
    fleet.project.write("ask.runbook.yaml", MANUAL)
    fleet.start_worker()
    run_id = fleet.gert("exec", "ask.runbook.yaml", "--queue").stdout.strip()
    assert fleet.gert("runs", "wait", run_id, "--timeout", "60").returncode == 4
    both = fleet.gert("answer", run_id, "--abort", "--skip-step", "look")
    assert both.returncode == 2 and "give it alone" in both.stderr
    aborted = fleet.gert("answer", run_id, "--abort", "--reason", "paged the DBA instead")
    assert aborted.returncode == 0, aborted.stderr
    waited = fleet.gert("runs", "wait", run_id, "--timeout", "60")
    assert waited.returncode == 1, waited.stdout
    shown = json.loads(fleet.gert("runs", "list", "--json").stdout)[0]
    assert shown["status"] == "failed"
    events = [
        json.loads(r[0])
        for r in fleet.sql(
            "SELECT line FROM gert_trace_events WHERE run_id = %s ORDER BY seq", (run_id,)
        )
    ]
    end = events[-1]
    assert end["type"] == "run_completed" and "aborted by" in end["data"]["error"]
    assert "paged the DBA instead" in end["data"]["error"]
    assert fleet.gert("trace", "verify", run_id).returncode == 0
    again = fleet.gert("answer", run_id, "--abort")
    assert again.returncode == 2 and "already finished" in again.stderr


def test_answer_without_a_queue_goes_on_here(tmp_path):
    from helpers import gert

    project = ProjectDir(tmp_path)
    project.write("ask.runbook.yaml", MANUAL)
    waiting = gert("exec", "ask.runbook.yaml", "--json", cwd=tmp_path)
    assert waiting.returncode == 4
    run_id = json.loads(waiting.stdout)["runs"][0]["run_id"]
    answers = tmp_path / "answers.yaml"
    answers.write_text("look:\n  link: https://dash/1\n  outcome: resolved\n")
    done = gert("answer", run_id, "--evidence", str(answers), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "outcome resolved" in done.stdout


def test_a_broker_that_is_away_queues_anyway_and_a_missing_one_refuses(fleet):
    write_chain(fleet)
    with (fleet.root / "gert.yaml").open("w") as f:
        f.write(
            "record: off\nincident: {post: auto}\nstore: {backend: postgresql}\n"
            "queue: {lease_seconds: 3}\n"
        )
    # no broker setting: refused before anything is written or opened
    missing = dict(fleet.env)
    del missing["GERT_BROKER_URL"]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "gert.cli",
            "exec",
            "triage.runbook.yaml",
            "--var",
            "tag=m",
            "--incident",
            "NEW-1",
            "--queue",
        ],
        cwd=fleet.root,
        env=missing,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "GERT_BROKER_URL is not set" in r.stderr, r.stderr
    assert fleet.sql("SELECT count(*) FROM gert_work") == [(0,)]
    assert "NEW-1" not in fleet.gert("incident", "list").stdout
    # the broker cannot be reached: queued all the same (the row is the truth), said so
    away = {**fleet.env, "GERT_BROKER_URL": "redis://127.0.0.1:1/0"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "gert.cli",
            "exec",
            "triage.runbook.yaml",
            "--var",
            "tag=a",
            "--incident",
            "NEW-2",
            "--queue",
        ],
        cwd=fleet.root,
        env=away,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "no worker could be told now" in r.stderr
    run_id = r.stdout.strip()
    # a worker's sweeper sends it as soon as it runs; the new incident was opened and
    # the chain's summary is posted to it
    fleet.start_worker()
    waited = fleet.gert("runs", "wait", run_id, "--timeout", "60")
    assert waited.returncode == 0, waited.stdout
    shown = fleet.gert("incident", "show", "NEW-2").stdout
    assert "Runbook chain completed for incident NEW-2" in shown, shown
    assert "3. check" in shown and "Outcome: resolved" in shown, shown


def test_answers_that_do_not_fit_are_refused_before_anything_is_queued(fleet, tmp_path):
    fleet.project.write("ask.runbook.yaml", MANUAL)
    fleet.start_worker()
    run_id = fleet.gert("exec", "ask.runbook.yaml", "--queue").stdout.strip()
    assert fleet.gert("runs", "wait", run_id, "--timeout", "60").returncode == 4
    bad = tmp_path / "bad.yaml"
    bad.write_text("look:\n  lnk: https://dash/1\n  outcome: resolvd\n")
    r = fleet.gert("answer", run_id, "--evidence", str(bad))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{bad}: look.link: text is required" in r.stderr
    assert "look.lnk: step 'look' asks for no such answer" in r.stderr
    wrong_step = tmp_path / "wrong.yaml"
    wrong_step.write_text("lok:\n  link: x\n  outcome: resolved\n")
    r = fleet.gert("answer", run_id, "--evidence", str(wrong_step))
    assert r.returncode == 2 and "did you mean 'look'" in r.stderr, r.stderr
    r = fleet.gert("answer", run_id, "--retry-step", "look")
    assert r.returncode == 2 and "was not running" in r.stderr, r.stderr
    assert fleet.sql("SELECT state FROM gert_work") == [("done",)]  # nothing queued


def test_a_mistyped_runbook_gets_a_did_you_mean_and_queue_needs_postgresql(fleet, tmp_path):
    write_chain(fleet)
    typo = fleet.gert("exec", "triag.runbook.yaml", "--var", "tag=x", "--queue")
    assert typo.returncode == 2, typo.stderr
    assert "(did you mean triage.runbook.yaml?)" in typo.stderr
    files = tmp_path / "files"
    files.mkdir()
    (files / "gert.yaml").write_text("record: off\nqueue: {lease_seconds: 5}\n")
    r = subprocess.run(
        [sys.executable, "-m", "gert.cli", "runs", "list"],
        cwd=files,
        env=fleet.env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "gert.yaml:2:8: error: queue: queue needs store" in r.stderr
