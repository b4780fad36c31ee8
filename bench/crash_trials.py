"""kill -9 trials: start a chain, kill gert at a random moment, resume as an operator
would, and count what went wrong.

The chain is a triage runbook handing off to a fix runbook; every step appends a line to
an effects file when it starts its work and another when it finishes. After each kill,
``gert resume`` is run without options; when it refuses, the operator answers as the
message says (``--in-flight kill``, then ``--skip-step`` for a step that may have had
effects) until the chain finishes. Counted per trial:

- repeated steps: a non-idempotent step whose work started twice;
- broken evidence: a run whose ``gert trace verify`` fails;
- partial scenarios: a saved scenario that does not hold the whole chain from its root;
- unfinished chains: resume could not take the chain to its end (a skipped step that
  picks the outcome ends the chain early: that is the operator's choice, not a failure).

Prints the counts and wall/CPU time. Run: .venv/bin/python bench/crash_trials.py [TRIALS]
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GERT = [sys.executable, "-m", "gert.cli"]

TRIAGE = """\
apiVersion: runbook/v0
meta: {{name: triage}}
steps:
  - {{id: look, type: cli, with: {{argv: [sh, -c, 'echo look >> {fx}; sleep {t1}; echo look-done >> {fx}']}}}}
  - {{id: probe, type: cli, idempotent: true, with: {{argv: [sh, -c, 'echo probe >> {fx}; sleep {t2}']}}}}
  - id: decide
    type: cli
    with: {{argv: [sh, -c, 'echo decide >> {fx}; sleep {t3}; echo decide-done >> {fx}']}}
    outcomes: [{{state: needs_rca, next_runbook: {{file: fix}}}}]
"""
FIX = """\
apiVersion: runbook/v0
meta: {{name: fix}}
steps:
  - {{id: restart, type: cli, with: {{argv: [sh, -c, 'echo restart >> {fx}; sleep {t4}; echo restart-done >> {fx}']}}}}
  - id: check
    type: cli
    with: {{argv: [sh, -c, 'echo check >> {fx}; sleep {t5}']}}
    outcomes: [{{state: resolved}}]
"""
IDEMPOTENT = {"probe"}


def gert(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GERT, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def runs(project: Path) -> dict[str, dict]:
    found = {}
    base = project / ".runbook" / "runs"
    for folder in base.iterdir() if base.is_dir() else []:
        manifest = folder / "run.yaml"
        if manifest.is_file():
            from gert.store import RunFolder

            m = RunFolder(folder).read_manifest()
            found[m.get("runbook_name") or folder.name] = {"id": folder.name, "m": m}
    return found


def resume_until_done(project: Path, run_id: str) -> tuple[bool, list[list[str]]]:
    """Resume as an operator would; whether the chain finished, and the commands given."""
    given: list[list[str]] = []
    extra: list[str] = []
    for _ in range(6):
        r = gert("resume", run_id, *extra, cwd=project)
        given.append(["resume", run_id, *extra])
        if r.returncode in (0, 3):
            return True, given
        err = r.stderr
        if "already finished" in err:
            return True, given
        if "--in-flight" in err and "--in-flight" not in extra:
            extra += ["--in-flight", "kill"]
        elif "--skip-step" in err:
            step = err.split("--skip-step ")[1].split()[0]
            extra += ["--skip-step", step]
        else:
            given.append([f"refused: {err.strip()[:300]}"])
            return False, given
    return False, given


def trial(seed: int, workdir: Path) -> dict[str, int]:
    rnd = random.Random(seed)
    project = workdir / f"t{seed}"
    project.mkdir()
    fx = project / "effects"
    times = {f"t{i}": round(rnd.uniform(0.05, 0.4), 2) for i in range(1, 6)}
    (project / "gert.yaml").write_text("record: auto\n")
    (project / "triage.runbook.yaml").write_text(TRIAGE.format(fx=fx, **times))
    (project / "fix.runbook.yaml").write_text(FIX.format(fx=fx, **times))
    proc = subprocess.Popen(
        [*GERT, "exec", "triage.runbook.yaml"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(rnd.uniform(0.2, sum(times.values()) + 0.6))
    proc.kill()
    proc.wait()
    found = runs(project)
    # The run to resume: the newest that did not finish, else a pending hand-off.
    todo = [
        r["id"]
        for r in found.values()
        if r["m"].get("status") in ("running", "interrupted")
        or (
            r["m"].get("status") == "completed"
            and (r["m"].get("outcome") or {}).get("next_runbook")
            and not r["m"].get("child_runs")
        )
    ]
    finished, given = True, []
    if todo:
        finished, given = resume_until_done(project, sorted(todo)[-1])
    if not finished:
        print(f"trial {seed}: unfinished after {given}", file=sys.stderr)
    found = runs(project)
    lines = fx.read_text().split() if fx.exists() else []
    repeated = sum(1 for step in ("look", "decide", "restart", "check") if lines.count(step) > 1)
    broken = sum(
        1 for r in found.values() if gert("trace", "verify", r["id"], cwd=project).returncode
    )
    partial = 0
    scenarios = list((project / "scenarios").rglob("scenario.yaml"))
    if scenarios and "fix" in found:
        from gert.load import load_file

        chain = [
            c["runbook"] for c in load_file(max(scenarios, key=os.path.getmtime)).data["chain"]
        ]
        partial = int(chain != ["triage", "fix"])
    return {
        "repeated": repeated,
        "broken": broken,
        "partial": partial,
        "unfinished": int(not finished),
        "resumed": int(bool(todo)),
    }


def main(trials: int = 30) -> dict[str, int]:
    """Run *trials* trials; print and return the totals."""
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    totals = {"repeated": 0, "broken": 0, "partial": 0, "unfinished": 0, "resumed": 0}
    workdir = Path(tempfile.mkdtemp(prefix="gert-crash-"))
    try:
        for seed in range(trials):
            for k, v in trial(seed, workdir).items():
                totals[k] += v
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"{trials} kill -9 trials ({totals['resumed']} needed a resume): "
        f"{totals['repeated']} repeated non-idempotent steps, {totals['broken']} runs failing "
        f"trace verify, {totals['partial']} partial scenarios, {totals['unfinished']} "
        f"unfinished chains; wall {wall:.1f} s, CPU {after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime:.1f} s"
    )
    print(json.dumps(totals))
    return totals


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
