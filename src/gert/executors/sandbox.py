"""The optional bubblewrap sandbox of ``cli`` steps (docs/security.md, The sandbox).

A sandboxed command sees the whole file system read-only but for the paths its step makes
writable, a private ``/tmp``, its own process namespace (killing bwrap kills everything
inside, ``setsid`` or not) and, unless the step allows the network, a network namespace
of its own with only a loopback (and a private ``/run``, where most local services keep
their sockets). Governance checks the step's own argv; this module only wraps it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from gert.config import SandboxConfig
from gert.executors import StepError, StepOutput, inside_project
from gert.model import SandboxSpec

MISSING = (
    "this step asks for a sandbox, which needs bubblewrap (Debian package bubblewrap); "
    "not found on PATH"
)
WHAT = "sandbox writable path"
# Mount points the sandbox replaces with empty private folders (/run only without network).
PRIVATE = (Path("/tmp"), Path("/run"))

_settings: dict[Path, tuple[bytes, SandboxConfig]] = {}  # gert.yaml -> (its text, settings)


def project_settings(project_root: Path) -> SandboxConfig:
    """The ``sandbox:`` section of the project's gert.yaml (defaults when it has none).

    Read on its own, so a mistake elsewhere in gert.yaml does not lose it; a mistake in it
    fails the step (StepError) instead of running the command unconfined.
    """
    from gert.load import LoadError, parse_text
    from gert.project import CONFIG_NAME

    path = project_root / CONFIG_NAME
    try:
        text = path.read_bytes()  # small; read every time, so an edit is never missed
    except FileNotFoundError:
        return SandboxConfig()
    except OSError as e:
        raise StepError(
            f"{CONFIG_NAME} cannot be read ({e.strerror or e}), so its sandbox settings are "
            "unknown; no command runs until it is fixed"
        ) from None
    cached = _settings.get(path)
    if cached is not None and cached[0] == text:
        return cached[1]
    try:
        data = parse_text(text.decode("utf-8"), str(path)).data
    except (LoadError, UnicodeDecodeError) as e:
        reason = e.message if isinstance(e, LoadError) else "not UTF-8 text"
        if b"sandbox" in text:
            raise StepError(
                f"{CONFIG_NAME} cannot be read ({reason}), so its sandbox settings are "
                "unknown; no command runs until it is fixed"
            ) from None
        data = None
    has = isinstance(data, dict) and "sandbox" in data
    try:
        settings = SandboxConfig.model_validate(data["sandbox"] if has else {})  # type: ignore[index]
    except ValueError:
        raise StepError(
            f"the sandbox settings in {CONFIG_NAME} are invalid, so no command runs until "
            f"they are fixed; run: gert validate {CONFIG_NAME}"
        ) from None
    _settings[path] = (text, settings)
    return settings


def step_sandbox(own: SandboxSpec | bool | None, project_root: Path) -> dict[str, Any] | None:
    """The sandbox a cli step runs in, as its rendered fields show it (None: unsandboxed):
    the step's own, else gert.yaml's default. StepError when gert.yaml requires one and the
    step says ``sandbox: false``, or when a relative writable path leaves the project."""
    try:
        chosen = project_settings(project_root).for_step(own)
    except ValueError as e:
        raise StepError(str(e)) from None
    if chosen is None:
        return None
    for path in chosen.writable:
        if not os.path.isabs(path):
            inside_project(project_root, path, WHAT)
    return {"writable": list(chosen.writable), "network": chosen.network}


def command(
    argv: list[str], sandbox: dict[str, Any], *, project_root: Path, cwd: Path, path: str
) -> tuple[list[str], dict[str, Any]]:
    """The bwrap command that runs *argv* in *sandbox*, and what the evidence records of it.

    StepError (and nothing runs) when bwrap is not on *path* or a writable path is missing.
    """
    bwrap = shutil.which("bwrap", path=path)
    if bwrap is None:
        raise StepError(MISSING)
    root = project_root.resolve()
    writable: list[Path] = []
    for given in sandbox["writable"]:
        if not os.path.isabs(given):
            inside_project(project_root, given, WHAT)
        full = Path(given) if os.path.isabs(given) else project_root / given
        if not full.exists():
            raise StepError(
                f"{WHAT} '{given}' does not exist; create it before the step "
                "(the sandbox makes existing paths writable, it creates none)"
            )
        writable.append(full.resolve())
    private = PRIVATE if not sandbox["network"] else PRIVATE[:1]
    out = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for folder in private:
        out += ["--tmpfs", str(folder)]
    if any(root.is_relative_to(folder) for folder in private):  # the project stays visible
        out += ["--ro-bind", str(root), str(root)]
    # So does the program itself when it lives there (a virtualenv under /tmp), read-only.
    program = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=path)
    if program:
        home = Path(program).absolute().parent
        if home.name == "bin" and (home.parent / "pyvenv.cfg").is_file():
            home = home.parent  # a virtualenv: its configuration and packages too
        if any(home.is_relative_to(folder) for folder in private) and not home.is_relative_to(root):
            out += ["--ro-bind", str(home), str(home)]
    for full in sorted(set(writable), key=lambda p: len(p.parts)):  # parents first
        out += ["--bind", str(full), str(full)]
    if not sandbox["network"]:
        out.append("--unshare-net")
    out += ["--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"]
    # As root, bwrap keeps every capability unless told otherwise, and CAP_SYS_ADMIN could
    # remount the read-only file system writable.
    out += ["--cap-drop", "ALL", "--chdir", str(cwd.resolve()), "--", *argv]
    recorded = {
        "bwrap": bwrap,
        "writable": [str(p) for p in writable],
        "network": sandbox["network"],
    }
    return out, recorded


_BWRAP_ERROR = re.compile(r"bwrap: ([^\n]*)\n?\Z")
_EXECVP = re.compile(r"execvp (.*): (No such file or directory|Permission denied)\Z")


def explain_failure(out: StepOutput, program: str) -> None:
    """Set ``out.error`` when bwrap itself failed (the command never started): bwrap then
    exits 1 with one line ``bwrap: …`` on stderr and nothing on stdout."""
    m = _BWRAP_ERROR.match(out.stderr)
    if out.error or out.exit_code != 1 or out.stdout or m is None:
        return
    message = m.group(1)
    found = _EXECVP.match(message)
    if found and found.group(1) == program:
        kind = "command not found" if found.group(2).startswith("No such") else "not executable"
        out.error = f"{kind}: {program}"
    else:
        out.error = f"the sandbox could not start the command: {message}"
