"""Finding and ending a step's processes, wherever they went.

Every process a step starts carries ``GERT_STEP=<run ID>/<step ID>#<occurrence>`` in its
environment. That mark is what ties a process to its step after it has left the step's
process group (``setsid``, a daemon's double fork) or after gert itself was killed:

- while gert runs, it is a *child subreaper* (Linux): a step's orphaned descendants are
  handed to gert instead of to init, so when the step ends, :func:`end_orphans` finds them
  among gert's own children, by their mark, and kills and reaps them;
- after a ``kill -9``, ``gert resume`` finds the interrupted step's processes anywhere on
  the machine with :func:`find_marked`, and waits for them or kills them.

A process that clears its environment *and* leaves the session escapes both; the
bubblewrap sandbox (its own PID namespace) is the confinement for that.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STEP_MARK = "GERT_STEP"
_PROC = Path("/proc")
_subreaper: bool | None = None  # None: not tried yet


def step_mark(run_id: str, step_id: str, occurrence: int) -> str:
    """The value of ``GERT_STEP`` for one occurrence of one step of one run."""
    return f"{run_id}/{step_id}#{occurrence}"


def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans (Linux; once)."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if sys.platform == "linux":
            import ctypes

            try:
                libc = ctypes.CDLL(None, use_errno=True)
                pr_set_child_subreaper = 36
                _subreaper = libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                _subreaper = False
    return _subreaper


@dataclass
class StepProcess:
    """A live process that carries a step's mark."""

    pid: int
    mark: str
    command: str

    def to_dict(self) -> dict[str, object]:
        """pid, mark and command, for the trace."""
        return {"pid": self.pid, "mark": self.mark, "command": self.command}


def _mark_of(pid: int | str) -> str | None:
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:  # gone, or not ours to read
        return None
    key = STEP_MARK.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(key):
            return entry[len(key) :].decode("utf-8", "replace")
    return None


def _state(pid: int | str) -> str | None:
    """The process's state letter (Z: a zombie), or None when it is gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :][:1]


def _command(pid: int | str) -> str:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(a.decode("utf-8", "replace") for a in raw.split(b"\0") if a)[:200]


def find_marked(prefix: str) -> list[StepProcess]:
    """Live processes whose mark starts with *prefix* (``RUN/`` for a whole run)."""
    found = []
    if not _PROC.is_dir():
        return found
    me = os.getpid()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        mark = _mark_of(entry.name)
        if mark is not None and mark.startswith(prefix) and _state(entry.name) not in (None, "Z"):
            found.append(StepProcess(int(entry.name), mark, _command(entry.name)))
    return found


def alive(pids: list[int]) -> list[int]:
    """Those of *pids* still running (zombies are not)."""
    return [p for p in pids if _state(p) not in (None, "Z", "X")]


def still_marked(processes: list[dict[str, Any]]) -> list[int]:
    """The pids of *processes* (``StepProcess.to_dict()``s) that still run with their
    mark: a pid the system gave to another process since is not theirs any more."""
    return [
        int(p["pid"]) for p in processes if _mark_of(p["pid"]) == p["mark"] and alive([p["pid"]])
    ]


def settle(processes: list[dict[str, Any]], action: str, poll: float = 0.1) -> None:
    """Wait for a stopped step's processes to end (``wait``), or kill them (``kill``)."""
    while pids := still_marked(processes):
        if action == "kill":
            kill(pids)
        time.sleep(poll)


def kill(pids: list[int]) -> None:
    """SIGKILL each process and the process group it leads."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def wait_gone(pids: list[int], timeout: float | None, poll: float = 0.1) -> bool:
    """Wait until none of *pids* runs; False when *timeout* seconds ran out first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while alive(pids):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def _own_children() -> list[int]:
    """This process's children, from /proc (every thread's list)."""
    pids: list[int] = []
    tasks = f"{_PROC}/self/task"
    with contextlib.suppress(OSError):
        for task in os.listdir(tasks):  # after every step: os calls, not pathlib
            with contextlib.suppress(OSError), open(f"{tasks}/{task}/children", "rb") as f:
                pids += [int(p) for p in f.read().split()]
    return pids


def end_orphans(mark: str, rounds: int = 20) -> list[int]:
    """Kill and reap the processes of a finished step that were handed to gert (see the
    module's docstring); returns their pids. Processes without the step's mark are left."""
    if not _subreaper:
        return []
    ended: list[int] = []
    unsure = 0
    for _ in range(rounds):  # each death may hand gert the dead process's own children
        children = [p for p in _own_children() if p not in ended]
        marks = {p: _mark_of(p) for p in children}
        mine = [p for p, m in marks.items() if m == mark]
        # A process in the middle of exec shows an empty environment for an instant: look
        # again shortly rather than leave one of the step's processes running.
        blank = [p for p, m in marks.items() if m is None and _blank_environ(p)]
        if not mine:
            if blank and unsure < 10:
                unsure += 1
                time.sleep(0.01)
                continue
            break
        kill(mine)
        for pid in mine:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        ended += mine
    return ended


def _blank_environ(pid: int) -> bool:
    """True when a live process shows no environment at all (it is between fork and exec,
    or exec is replacing its memory)."""
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return not environ and _state(pid) not in (None, "Z", "X")
