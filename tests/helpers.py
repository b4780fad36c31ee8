"""Shared test helpers: the gert CLI (in-process and as a real process), throw-away
projects, polling instead of sleeping, and a scripted ``cli`` executor.

Tests import these with ``from helpers import ...``; ``conftest.py`` holds only fixtures.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click.formatting
import pytest
from click.testing import CliRunner

from gert.executors import StepContext, StepOutput
from gert.executors.cli import CliExecutor
from gert.store import RunFolder
from gert.store.trace import read_events

# ------------------------------------------------------------------ the CLI


@dataclass
class Ran:
    """What one gert command did: the fields of :class:`subprocess.CompletedProcess`
    that the tests read."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


# What click calls the program when it runs as ``python -m gert.cli`` (usage lines).
PROG_NAME = "python -m gert.cli"


class _Runner(CliRunner):
    """click's runner, with help wrapped as a process would wrap it.

    The runner fixes help text at 80 columns; a real process takes the width of its
    terminal (COLUMNS, else 80 when stdout is not a terminal, minus a margin).
    """

    @contextlib.contextmanager
    def isolation(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with super().isolation(*args, **kwargs) as streams:
            click.formatting.FORCED_WIDTH = None  # restored by the runner on the way out
            yield streams


def gert(
    *args: str,
    cwd: Path | str,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> Ran:
    """Run the gert CLI in this process, as :func:`gert_process` would run it in a child.

    The command runs in *cwd* with exactly *env* as its environment when given (as
    ``subprocess.run(env=...)`` does); both are restored afterwards. Its stdin is *input*
    (never a terminal), stdout and stderr are kept apart, and an exit (``sys.exit``, a
    click usage error) becomes the return code. An exception that escapes the command is
    printed on stderr as a traceback with return code 1, as the interpreter would.
    """
    from gert.cli import main

    runner = _Runner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        if env is not None:
            for name in list(os.environ):
                if name not in env:
                    mp.delenv(name)
            for name, value in env.items():
                mp.setenv(name, value)
        result = runner.invoke(
            main, list(args), input=input, catch_exceptions=True, prog_name=PROG_NAME
        )
    stderr, code = result.stderr, result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
        code = 1
    return Ran(["gert", *args], code, result.stdout, stderr)


def gert_process(*args: str, cwd: Path | str, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run the gert CLI as a user would, as a real process in *cwd*; text output captured.

    For what only a process shows: signals, exit statuses of the interpreter, start-up,
    worker processes, a terminal.
    """
    return subprocess.run(
        [sys.executable, "-m", "gert.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        **kw,
    )


def start_gert(*args: str, cwd: Path | str) -> subprocess.Popen[str]:
    """Start the gert CLI as a real process (to interrupt or kill it while it runs)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gert.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# ------------------------------------------------------------------ waiting


def wait_for(
    predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll *predicate* until it returns something true (returned); fail after *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting{' for ' + what if what else ''}"
        time.sleep(interval)


class Waits:
    """Stands in for the ``time`` module of a module under test: every ``sleep`` is
    recorded instead of waited (retry back-off a test need not sit through); everything
    else is the real ``time``."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def record_waits(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[float]:
    """Make *module*'s sleeps instant for this test; returns the list of waits asked for."""
    waits = Waits()
    monkeypatch.setattr(module, "time", waits)
    return waits.slept


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def alive(pid: int) -> bool:
    """True when the process runs (a zombie, dead but not yet reaped, is not alive)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def children(pid: int, command: str | None = None) -> list[int]:
    """The live child processes of *pid* (only those running *command*, when given)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if (
                fields is not None
                and fields[1] == str(pid)
                and fields[0] not in ("Z", "X")
                and (command is None or command_of(int(entry.name)) == command)
            ):
                out.append(int(entry.name))
    return out


def command_of(pid: int) -> str | None:
    """The name of the program a process runs (once it has exec'd it)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


# ------------------------------------------------------------------ runs being killed


def only_run(root: Path) -> RunFolder:
    runs = sorted((root / ".runbook" / "runs").iterdir())
    assert len(runs) == 1
    return RunFolder(runs[0])


def step_process(proc: subprocess.Popen[str], command: str) -> int:
    """The pid of the step's command once gert has started it (its only child running it)."""
    [pid] = wait_for(lambda: children(proc.pid, command), what=f"the step's {command}")
    return pid


def kill_group(pid: int, command: str) -> None:
    """Stop a step's command that gert left behind (it leads its own process group)."""
    if alive(pid) and command_of(pid) == command:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def started(folder_root: Path, step_id: str) -> bool:
    runs = folder_root / ".runbook" / "runs"
    if not runs.is_dir():
        return False
    for run in runs.iterdir():
        trace = run / "trace.jsonl"
        if trace.exists() and any(
            e["type"] == "step_started" and e["data"]["step_id"] == step_id
            for e in read_events(trace)
        ):
            return True
    return False


# ------------------------------------------------------------------ real Mermaid

ROOT = Path(__file__).resolve().parent.parent
NPM = ROOT / ".venv" / "npm"


class _Mermaid:
    """One Node process running real Mermaid (tests/mermaid/parse.mjs) for the session:
    Node and Mermaid start once, not once per check."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def parse(self, texts: list[str]) -> list[dict[str, Any]]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                ["node", str(ROOT / "tests" / "mermaid" / "parse.mjs")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "NPM_DIR": str(NPM)},
            )
            atexit.register(self.close)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(texts) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        assert ready, "Mermaid gave no answer within 120 s"
        line = self.proc.stdout.readline()
        if not line:  # Node died: say why
            self.proc.wait(timeout=10)
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"Mermaid exited with {self.proc.returncode}: {err}")
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_MERMAID = _Mermaid()


def mermaid_parse(texts: list[str]) -> list[dict[str, Any]]:
    """Each text parsed by real Mermaid (Node, mermaid and jsdom from scripts/setup.sh)."""
    assert (NPM / "node_modules" / "mermaid").is_dir(), "run scripts/setup.sh (npm mermaid, jsdom)"
    return _MERMAID.parse(texts)


# ------------------------------------------------------------------ projects


class ProjectDir:
    """A temporary gert project: write files into it, run runbooks in it."""

    def __init__(self, root: Path):
        self.root = root
        (root / "gert.yaml").write_text("record: off\n", encoding="utf-8")

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def config(self, text: str) -> None:
        self.write("gert.yaml", text)

    def engine(self, **parts: Any):  # type: ignore[no-untyped-def]
        """An engine on this project; *parts* are Engine's executors, provider, store."""
        from gert.engine import Engine
        from gert.project import open_project

        return Engine(open_project(self.root), **parts)

    def run(self, rel: str, *, executors: dict[str, Any] | None = None, **options):  # type: ignore[no-untyped-def]
        """Run a runbook; *executors* replace the real ones of their step kinds."""
        from gert.engine import Options

        with self.engine(executors=executors) as engine:
            return engine.run(self.root / rel, Options(**options))

    def files_text(self, under: str = ".runbook") -> str:
        """Everything written under a folder, as one string (for redaction checks)."""
        return "\n".join(
            p.read_text(encoding="utf-8", errors="replace")
            for p in (self.root / under).rglob("*")
            if p.is_file()
        )


# ------------------------------------------------------------------ a scripted executor


def interrupt(ctx: StepContext) -> StepOutput:
    """A scripted answer: the operator presses Ctrl-C while the step runs."""
    raise KeyboardInterrupt


def triaged_example(dest: Path, times: int, *postmortem_args: str) -> Path:
    """A fresh copy of examples/ (with set-up's data) in *dest*, its chain run *times*
    against incident 747870160, then ``gert postmortem`` with *postmortem_args*."""
    import shutil

    ex = dest / "examples"
    shutil.copytree(ROOT / "examples", ex, ignore=shutil.ignore_patterns(".runbook", "data", "20*"))
    subprocess.run(
        [sys.executable, str(ex / "create_example_data.py")], check=True, capture_output=True
    )
    for _ in range(times):
        r = gert(
            "exec",
            "runbooks/login-success-rate-below-target.runbook.yaml",
            "--incident",
            "747870160",
            "--evidence",
            "answers/747870160.yaml",
            cwd=ex,
        )
        assert r.returncode == 0, r.stderr
    r = gert("postmortem", "747870160", "--no-input", *postmortem_args, cwd=ex)
    assert r.returncode == 0, r.stderr
    return ex


def output(stdout: str = "", exit_code: int | None = 0, **fields: Any) -> StepOutput:
    """A step output as a command would give it."""
    return StepOutput(stdout=stdout, exit_code=exit_code, **fields)


@dataclass
class FakeCli(CliExecutor):
    """A ``cli`` executor that starts no process: each step id answers with its scripted
    outputs in turn (the last one repeats), and every context it was given is kept.

    It is the real :class:`CliExecutor` in everything but ``execute``, so whatever else
    the engine asks of a cli executor behaves as in production.
    """

    script: dict[str, list[StepOutput | Callable[[StepContext], StepOutput]]] = field(
        default_factory=dict
    )
    calls: list[StepContext] = field(default_factory=list)

    def on(
        self, step_id: str, *answers: StepOutput | Callable[[StepContext], StepOutput]
    ) -> FakeCli:
        """Script the answers of *step_id* (a StepOutput, or a function of the context)."""
        self.script[step_id] = list(answers)
        return self

    def argvs(self, step_id: str | None = None) -> list[list[str]]:
        """The rendered argv of every call (of one step)."""
        return [c.rendered["argv"] for c in self.calls if step_id in (None, c.step.id)]

    def execute(self, ctx: StepContext) -> StepOutput:
        self.calls.append(ctx)
        answers = self.script.get(ctx.step.id)
        assert answers, f"FakeCli: nothing scripted for step {ctx.step.id!r}"
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        out = answer(ctx) if callable(answer) else deepcopy(answer)  # a fresh one per call
        if not out.request:
            out.request = {"argv": list(ctx.rendered["argv"])}
        return out
