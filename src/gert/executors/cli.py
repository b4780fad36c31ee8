"""``cli`` steps: run a command without a shell; a timeout kills its whole process group."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from gert.executors import MAX_OUTPUT, StepContext, StepError, StepOutput, inside_project
from gert.executors.processes import STEP_MARK, become_subreaper, end_orphans
from gert.executors.sandbox import command as sandbox_command
from gert.executors.sandbox import explain_failure, step_sandbox
from gert.template import render, render_tree

LINE_SHOWN = 4096  # bytes of a line passed to on_output (a display shows its start)
LINES_TOLD = 64  # lines of one read passed to on_output: a display skips a flood's start


class _Collector(threading.Thread):
    """Reads a stream to the end, keeping at most MAX_OUTPUT bytes and counting the rest;
    with *on_line*, tells it the last line of what arrived, as it arrives."""

    def __init__(self, stream: IO[bytes], on_line: Callable[[str], None] | None = None):
        super().__init__(daemon=True)
        self.stream = stream
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0
        self.on_line = on_line
        self.partial = b""  # the start of a line still being written

    def run(self) -> None:
        # read1 returns what the pipe holds now; read waits for 64 KiB (or the end).
        read = self.stream.read1 if self.on_line else self.stream.read  # type: ignore[attr-defined]
        while chunk := read(65536):
            room = MAX_OUTPUT - self.kept
            if room > 0:
                self.chunks.append(chunk[:room])
                self.kept += min(room, len(chunk))
            self.dropped += max(0, len(chunk) - max(room, 0))
            if self.on_line:
                self.tell(chunk)

    def tell(self, chunk: bytes) -> None:
        """Pass each complete, non-blank line to on_line (a carriage return ends a line
        too, as progress meters write them); of a flood, the last LINES_TOLD of a read."""
        head, newline, tail = chunk.replace(b"\r", b"\n").rpartition(b"\n")
        if not newline:
            self.partial = (self.partial + tail)[:LINE_SHOWN]
            return
        lines = [ln for ln in (self.partial + head).split(b"\n") if ln.strip()]
        self.partial = tail[:LINE_SHOWN]
        for line in lines[-LINES_TOLD:]:
            if self.on_line is None:
                return
            try:
                self.on_line(line.rstrip()[:LINE_SHOWN].decode("utf-8", errors="replace"))
            except Exception:  # a display that breaks never changes the step
                self.on_line = None

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


def run_command(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    on_output: Callable[[str], None] | None = None,
) -> StepOutput:
    """Run argv (no shell) and collect its output; never raises for the command's failures.
    *on_output* is told each line printed, as the command runs."""
    out = StepOutput(request={"argv": argv, **({"cwd": str(cwd)} if cwd else {})})
    # A NUL cannot be passed to a program (C strings end there): say which value holds one.
    for n, arg in enumerate(argv):
        if "\0" in arg:
            out.error = f"argument {n} contains a NUL byte, which no command can receive"
            return out
    for name, value in (env or {}).items():
        if "\0" in name or "\0" in value:
            out.error = f"environment variable {name!r} contains a NUL byte"
            return out
    mark = (env or {}).get(STEP_MARK)
    if mark:  # the step's orphans come back to gert, which ends them with the step
        become_subreaper()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group, so a timeout can kill it all
        )
    except FileNotFoundError:
        out.error = f"command not found: {argv[0]}"
        return out
    except PermissionError:
        out.error = f"not executable: {argv[0]}"
        return out
    except OSError as e:
        out.error = f"cannot start {argv[0]}: {e.strerror or e}"
        return out
    streams: list[IO[bytes]] = [proc.stdout, proc.stderr]  # type: ignore[list-item]
    readers = [_Collector(s, on_output) for s in streams]
    for r in readers:
        r.start()
    try:
        if stdin is not None:
            try:
                proc.stdin.write(stdin.encode("utf-8"))  # type: ignore[union-attr]
                proc.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass
        if not _wait(proc, timeout):
            out.timed_out = True
            out.error = f"timed out after {timeout:g}s; process group killed"
            _kill_group(proc)
    except BaseException:  # Ctrl-C: stop the step's processes before going on
        _kill_group(proc)
        if mark:
            end_orphans(mark)
        raise
    # The step is over: whatever it left running in its process group goes with it (a
    # background child would otherwise outlive the step and hold its pipes open).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if mark:  # and what left the group (setsid, a daemon's double fork)
        end_orphans(mark)
    for r in readers:
        r.join(timeout=1 if out.timed_out else 5)
    out.exit_code = proc.returncode
    out.stdout, out.stderr = readers[0].text(), readers[1].text()
    for name, r in zip(("stdout", "stderr"), readers, strict=True):
        if r.dropped:
            out.truncated[name] = r.dropped
    return out


def _wait(proc: subprocess.Popen[bytes], timeout: float | None) -> bool:
    """Wait for the process; False when *timeout* ran out first. A pidfd makes this one
    blocking wait (Popen.wait with a timeout polls, adding milliseconds to every step)."""
    if timeout is not None and hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(proc.pid)
        except OSError:
            fd = None
        if fd is not None:
            try:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                if not poller.poll(timeout * 1000):
                    return False
            finally:
                os.close(fd)
            proc.wait()
            return True
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def check_option_injection(templates: list[str], argv: list[str]) -> None:
    """Refuse an argument whose value became an option: its template does not start with
    '-' but what a variable put there does (``--output=…`` from an incident title)."""
    for n, (template, value) in enumerate(zip(templates, argv, strict=True)):
        if n and value.startswith("-") and not template.startswith("-") and "{{" in template:
            raise StepError(
                f"argument {n} ({template!r}) rendered to {value[:40]!r}, which the command "
                "would read as an option; put the option in the runbook (--flag={{ .value }}), "
                "or set with.allow_option_values: true if values may be options"
            )


class CliExecutor:
    """Executes ``type: cli`` steps."""

    def render(self, step: Any, values: Mapping[str, str], project_root: Path) -> dict[str, Any]:
        """argv and env rendered element by element; cwd (kept inside the project), stdin."""
        w = step.with_
        argv = [render(a, values) for a in w.argv]
        if not w.allow_option_values:
            check_option_injection(w.argv, argv)
        out: dict[str, Any] = {"argv": argv, "env": render_tree(w.env, values)}
        if w.cwd:
            out["cwd"] = inside_project(project_root, render(w.cwd, values), "cwd")
        if w.stdin is not None:
            out["stdin"] = render(w.stdin, values)
        # Not templated: the step's own sandbox, else gert.yaml's default (shown by a dry-run).
        sandbox = step_sandbox(w.sandbox, project_root)
        if sandbox is not None:
            out["sandbox"] = sandbox
        return out

    def execute(self, ctx: StepContext) -> StepOutput:
        """Run the rendered argv with the step's env, cwd and stdin (in its sandbox, if any)."""
        r = ctx.rendered
        cwd = ctx.project_root / r["cwd"] if r.get("cwd") else ctx.project_root
        env = {**ctx.env, **r.get("env", {})}
        if r.get("sandbox") is not None:
            return run_sandboxed(
                r["argv"],
                r["sandbox"],
                project_root=ctx.project_root,
                env=env,
                cwd=cwd,
                stdin=r.get("stdin"),
                timeout=ctx.timeout,
                on_output=ctx.on_output,
            )
        return run_command(
            r["argv"],
            env=env,
            cwd=cwd,
            stdin=r.get("stdin"),
            timeout=ctx.timeout,
            on_output=ctx.on_output,
        )


def run_sandboxed(
    argv: list[str],
    sandbox: dict[str, Any],
    *,
    project_root: Path,
    env: dict[str, str],
    cwd: Path,
    stdin: str | None = None,
    timeout: float | None = None,
    on_output: Callable[[str], None] | None = None,
) -> StepOutput:
    """:func:`run_command` inside bubblewrap; the request records the step's own argv and
    the sandbox. When the sandbox cannot be made, the command does not run at all."""
    request: dict[str, Any] = {"argv": argv, "cwd": str(cwd), "sandbox": dict(sandbox)}
    for n, arg in enumerate(argv):  # run_command's check, with the step's own numbering
        if "\0" in arg:
            return StepOutput(
                request=request,
                error=f"argument {n} contains a NUL byte, which no command can receive",
            )
    try:
        wrapped, request["sandbox"] = sandbox_command(
            argv,
            sandbox,
            project_root=project_root,
            cwd=cwd,
            path=env.get("PATH", os.defpath),
        )
    except StepError as e:
        return StepOutput(request=request, error=str(e))
    out = run_command(wrapped, env=env, cwd=cwd, stdin=stdin, timeout=timeout, on_output=on_output)
    out.request = request
    explain_failure(out, argv[0])
    return out
