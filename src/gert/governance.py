"""Command policy and redaction.

The project's policy (gert.yaml) and the runbook's are intersected: a command runs only
when both allow it, and is blocked when either denies it (deny wins). Redaction applies
to everything gert writes or shows: trace, step files, manifests, posts.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Always on: shapes that are secrets wherever they appear. Runbooks and gert.yaml add more.
_SECRET_WORDS = (
    r"client[_-]?secret|secret[_-]?access[_-]?key|secret[_-]?key|private[_-]?key|"
    r"access[_-]?key|api[_-]?key|password|passwd|passphrase|pwd|secret|token|credentials?"
)
DEFAULT_REDACT: tuple[tuple[str, str], ...] = (
    # key = value, key: value, "key": "value" (also DB_PASSWORD=, access_token, x-api-key)
    (
        rf"(?i)((?<![A-Za-z0-9])(?:{_SECRET_WORDS})[\"']?\s*[=:]\s*[\"']?)(?!\*\*\*)[^\s\"',;&]+",
        r"\1***",
    ),
    # --password X, --token=X
    (
        r"(?i)(--(?:password|passwd|token|secret|api-key|access-key)(?:=|\s+))(?!\*\*\*)[^\s\"']+",
        r"\1***",
    ),
    # mysql -pX (the password glued to -p, as the MySQL and MariaDB clients take it)
    (r"(?i)(\b(?:mysql|mariadb)[\w-]*\b[^\n]*?\s-p)(?!\*\*\*)([^\s\"']+)", r"\1***"),
    # Authorization: Bearer X, a bare "Bearer X" (headers kept as a map), Basic X
    (r"(?i)\b(bearer|basic|token)(\s+)(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}", r"\1\2***"),
    (r"(?i)((?:set-)?cookie:\s*)[^\r\n]+", r"\1***"),
    # user:password@ in URLs (postgresql://u:pw@host, https://u:pw@host)
    (r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:)(?!\*\*\*)[^@\s/]+@", r"\1***@"),
    # well-known token formats: GitHub, Slack, OpenAI-style keys, AWS access keys, JWTs
    (r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})", "***"),
    (r"\bxox[abposr]-[A-Za-z0-9-]{10,}", "***"),
    (r"\bsk-[A-Za-z0-9_-]{16,}", "***"),
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", "***"),
    (r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", "***"),
    (r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----", "***"),
)
# Words (lower case) one of which each DEFAULT_REDACT pattern needs: a pattern runs only on
# text holding one, found with a plain substring search (fast on megabytes of output).
DEFAULT_HINTS: tuple[tuple[str, ...], ...] = (
    ("secret", "key", "passw", "passphrase", "pwd", "token", "credential"),
    ("--password", "--passwd", "--token", "--secret", "--api-key", "--access-key"),
    ("mysql", "mariadb"),
    ("bearer", "basic", "token"),
    ("cookie",),
    ("://",),
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ("xox",),
    ("sk-",),
    ("akia", "asia"),
    ("eyj",),
    ("private key",),
)
_ANY_HINT = re.compile("|".join(re.escape(h) for hs in DEFAULT_HINTS for h in hs), re.I)
_HINTS = tuple(h.lower() for hs in DEFAULT_HINTS for h in hs)
_LOWER_HINT = re.compile("|".join(re.escape(h) for h in _HINTS))


def _has_hint(value: str, lower: str) -> bool:
    """Whether *value* holds a hint word, in any case. ASCII text is searched as plain
    lower-case substrings (a case-blind regex alternation costs ten times more); other
    text by the regex, which knows Unicode's case equivalents (``ſ`` is an ``s``)."""
    if value.isascii():  # short text: one alternation; long text: a scan per word
        if len(lower) < 64:
            return _LOWER_HINT.search(lower) is not None
        return any(h in lower for h in _HINTS)
    return _ANY_HINT.search(value) is not None


# Header names (HTTP requests are kept as maps) whose values are secrets whatever they
# look like.
SECRET_KEYS = re.compile(
    r"(?i)^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|"
    r"x-auth-token|x-access-token|private-token|x-vault-token)$"
)


def secret_forms(secret: str) -> set[str]:
    """A secret as it may appear once something encoded it: JSON strings, URLs, base64,
    hex, HTML, JavaScript, and in upper or lower case."""
    import base64
    import html as _html
    import json
    from urllib.parse import quote, quote_plus

    raw = secret.encode("utf-8")
    forms = {
        secret,
        secret.upper(),
        secret.lower(),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        raw.hex().upper(),
        _html.escape(secret),
        secret.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'"),
    }
    return {f for f in forms if len(f) >= 3}


# Programs that run another command given in their arguments: policy checks that command.
# Each maps to the options of it that take a value (so the value is not read as the
# command) and how many operands come before the command (chroot's NEWROOT, chrt's
# priority, taskset's mask).
WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "env": (frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}), 0),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "ionice": (frozenset({"-c", "--class", "-n", "--classdata", "-p", "-P", "-u"}), 0),
    "nohup": (frozenset(), 0),
    "timeout": (frozenset({"-s", "--signal", "-k", "--kill-after"}), 1),
    "stdbuf": (frozenset({"-i", "-o", "-e", "--input", "--output", "--error"}), 0),
    "setsid": (frozenset(), 0),
    "sudo": (frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"}), 0),
    "doas": (frozenset({"-u", "-C"}), 0),
    "chroot": (frozenset({"--userspec", "--groups"}), 1),
    "flock": (frozenset({"-w", "--timeout", "-E", "--conflict-exit-code"}), 1),
    "xargs": (
        frozenset({"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter"}),
        0,
    ),
    "time": (frozenset({"-f", "-o", "--format", "--output"}), 0),
    "strace": (frozenset({"-e", "-o", "-p", "-s", "-u", "-E", "-I", "-b", "-a", "-X", "-P"}), 0),
    "ltrace": (frozenset({"-e", "-o", "-p", "-s", "-u", "-n", "-a"}), 0),
    "taskset": (frozenset(), 1),
    "chrt": (frozenset(), 1),
    "unshare": (frozenset({"--map-user", "--map-group", "--setgroups", "--propagation"}), 0),
    "nsenter": (frozenset({"-t", "--target", "-S", "-G", "--setuid", "--setgid"}), 0),
    "prlimit": (frozenset({"-p", "--pid", "-o", "--output"}), 0),
    "runuser": (frozenset({"-u", "-g", "-G", "--user", "--group", "-s", "--shell"}), 0),
    "ld.so": (frozenset({"--library-path", "--preload", "--audit", "--argv0"}), 0),
    "busybox": (frozenset(), 0),
}
# The dynamic loader runs the program it is given, under whatever name it is installed.
_LOADER = re.compile(r"^ld(-linux[\w.-]*|-musl[\w.-]*)?\.so(\.\d+)*$")
# Interpreters and the options that hand them code inline: never run where a deny list
# exists unless the interpreter itself is allowed. Given no script file (code on stdin)
# they count as inline too.
INLINE_CODE = {
    **{
        sh: ("-c", "-s")
        for sh in ("sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "csh", "tcsh")
    },
    **{py: ("-c",) for py in ("python", "python2", "python3")},
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "node": ("-e", "--eval", "-p", "--print"),
    "php": ("-r",),
    "lua": ("-e",),
    "tclsh": (),
    "wish": (),
    "awk": (),  # a program text is always inline; system() runs commands
    "gawk": (),
    "mawk": (),
    "nawk": (),
    "watch": (),  # runs its arguments through sh -c
    "make": (),  # runs the recipes of a makefile
    "osascript": ("-e",),
    "flock": ("-c", "--command"),
    "script": ("-c", "--command"),
    "su": ("-c", "--command"),
    "runuser": ("-c", "--command"),
}
# Interpreters that read their program from a file operand (or stdin when there is none).
_SCRIPTED = frozenset(
    {
        "sh",
        "bash",
        "dash",
        "zsh",
        "ksh",
        "mksh",
        "ash",
        "fish",
        "csh",
        "tcsh",
        "python",
        "python2",
        "python3",
        "perl",
        "ruby",
        "node",
        "php",
        "lua",
        "tclsh",
        "wish",
    }
)
# sed's commands that run a shell command: `e` and the `e` flag of `s///`.
_SED_EXEC = re.compile(r"(^|[;{}\n]|\d|\$|/)\s*e(\s|$|;)|s(.).*?\3.*?\3[gpIiMm0-9w]*e")
# Variables a step's env: may not set: they choose which program runs or what it loads.
PROTECTED_ENV = re.compile(
    r"^(PATH|LD_\w*|DYLD_\w*|PYTHON\w*|PERL5\w*|PERLLIB|RUBY\w*|NODE_OPTIONS|NODE_PATH|"
    r"BASH_ENV|ENV|IFS|GCONV_PATH|LOCPATH|GERT_STEP)$"  # GERT_STEP: the step's processes' mark
)


def protected_env(names: Iterable[str]) -> list[str]:
    """The names among *names* that a step's env may not set."""
    return [n for n in names if PROTECTED_ENV.match(n)]


@dataclass(frozen=True)
class Program:
    """A program as the system would run it: the name given, its real path, its content."""

    given: str
    path: str | None  # resolved through PATH, symlinks followed; None when not found

    @property
    def names(self) -> set[str]:
        """The given name and the real file's name (a symlink's target counts)."""
        out = {os.path.basename(self.given)}
        if self.path:
            out.add(os.path.basename(self.path))
        return out

    @property
    def digest(self) -> str | None:
        """SHA-256 of the file: a renamed copy of a denied program is still that program."""
        return _digest(self.path) if self.path else None


_DIGESTS: dict[tuple[str, float, int], str] = {}


def _digest(path: str) -> str | None:
    try:
        st = os.stat(path)
        key = (path, st.st_mtime, st.st_size)
        if key not in _DIGESTS:
            with open(path, "rb") as f:
                _DIGESTS[key] = hashlib.file_digest(f, "sha256").hexdigest()
        return _DIGESTS[key]
    except OSError:
        return None


def resolve(argv0: str, search_path: str | None, cwd: str | None = None) -> Program:
    """Where *argv0* really is: a path is taken as it is (relative to *cwd*), a bare name is
    looked up in *search_path*; symlinks are followed."""
    if "/" in argv0:
        candidate = os.path.join(cwd or os.getcwd(), argv0)
        found = candidate if os.path.isfile(candidate) else None
    else:
        found = shutil.which(argv0, path=search_path)
    return Program(argv0, os.path.realpath(found) if found else None)


def wrapped_command(argv: list[str]) -> list[str] | None:
    """The command a wrapper runs (``env X=1 rm f`` -> ``rm f``), or None for a plain one."""
    import shlex

    name = os.path.basename(argv[0])
    if _LOADER.match(name):
        name = "ld.so"
    if name == "busybox":
        return argv[1:] or None
    if name == "find":
        for i, a in enumerate(argv):
            if a in ("-exec", "-execdir", "-ok", "-okdir"):
                inner = argv[i + 1 :]
                end = next((k for k, b in enumerate(inner) if b in (";", "+")), len(inner))
                return inner[:end] or None
            if a == "-delete":
                return ["rm", "--"]
        return None
    spec = WRAPPERS.get(name)
    if spec is None:
        return None
    takes_value, operands = spec
    rest = argv[1:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--":
            i += 1
            break
        if name == "env" and a in ("-S", "--split-string") and i + 1 < len(rest):
            try:  # env -S "rm f": the string is the command
                return shlex.split(rest[i + 1]) + rest[i + 2 :] or None
            except ValueError:
                return [rest[i + 1]]
        if name == "env" and a.startswith(("-S", "--split-string=")) and len(a) > 2:
            value = a.split("=", 1)[1] if a.startswith("--") else a[2:]
            try:
                return shlex.split(value) + rest[i + 1 :] or None
            except ValueError:
                return [value]
        if a.startswith("-") and a != "-":
            # "-n5" and "--opt=value" hold their value; "-n 5" takes the next argument
            i += 2 if a in takes_value else 1
            continue
        if name == "env" and "=" in a:  # env VAR=value ... command
            i += 1
            continue
        if operands and (name != "timeout" or re.fullmatch(r"[\d.]+[smhd]?", a)):
            operands -= 1  # timeout's DURATION, chroot's NEWROOT, taskset's mask ...
            i += 1
            continue
        break
    return rest[i:] or None


def inline_code(argv: list[str], names: set[str]) -> bool:
    """True when *argv* hands an interpreter code to run (``sh -ec``, ``python3 -cCODE``,
    ``perl -ne``, code on stdin, awk's program, sed's ``e``, git aliases that run a shell)."""
    name = next((n for n in sorted(names) if n in INLINE_CODE or n in ("sed", "git")), None)
    if name is None:
        return False
    args = argv[1:]
    if name == "sed":
        return any(_SED_EXEC.search(a) for a in args if not a.startswith("-"))
    if name == "git":
        return any("alias." in a and "=!" in a for a in args)
    flags = INLINE_CODE[name]
    if not flags:
        return True
    for a in args:
        if a in flags or any(
            a.startswith(f) and len(a) > len(f) and not f.startswith("--") for f in flags
        ):
            return True  # "-c", "-cCODE"
        if a.startswith("-") and not a.startswith("--") and len(a) > 2:
            cluster = set(a[1:])  # "-ec", "-ne": options run together
            if cluster & {f[1] for f in flags if len(f) == 2}:
                return True
    if name in _SCRIPTED:
        operands = [a for a in args if not a.startswith("-")]
        if not operands or operands[0] in ("/dev/stdin", "/proc/self/fd/0") or "-" in args:
            return True  # the program comes from stdin
    return False


# Programs that do another's job: denying the one denies these too (a deny list means what
# a program does, and `unlink f` removes a file as surely as `rm f`).
STAND_INS = {
    "rm": frozenset({"unlink", "shred", "rmdir"}),
    "curl": frozenset({"wget"}),
    "wget": frozenset({"curl"}),
    "sh": frozenset({"dash", "ash", "bash", "ksh", "mksh", "zsh"}),
    "bash": frozenset({"sh", "dash", "ash", "ksh", "mksh", "zsh"}),
}


def with_stand_ins(names: set[str]) -> dict[str, str]:
    """Each denied name and stand-in -> the denied name it stands for."""
    out = {n: n for n in names}
    for name in sorted(names):
        for other in STAND_INS.get(name, ()):
            out.setdefault(other, name)
    return out


# How long a policy trusts its lookup of the denied programs on PATH (seconds).
DIGESTS_FRESH = 10.0


@dataclass
class Policy:
    """The effective command policy of one run.

    Commands are matched on what really runs: the program resolved through the ``PATH``
    the step will use, symlinks followed, and (for deny lists) its content, so a link or a
    renamed copy of a denied program is that program. Wrappers (``env``, ``timeout``,
    ``sudo``, ``xargs``, ``find -exec``, ``busybox`` …) are checked for the command they
    run too, and inline code (``sh -c``, ``python -c`` …) is refused where a deny list
    exists unless the interpreter is allowed. It is policy, not a sandbox.
    """

    allowed: set[str] | None = None  # None: any command not denied
    denied: set[str] = field(default_factory=set)
    deny_env: list[str] = field(default_factory=list)

    @classmethod
    def merge(cls, *governances: Any) -> Policy:
        """Intersect policies (gert.model.Governance or None): allow both, deny either."""
        policy = cls()
        for g in governances:
            if g is None:
                continue
            if g.allowed_commands is not None:
                allowed = set(g.allowed_commands)
                policy.allowed = allowed if policy.allowed is None else policy.allowed & allowed
            policy.denied |= set(g.denied_commands)
            policy.deny_env.extend(p for p in g.deny_env_vars if p not in policy.deny_env)
        return policy

    def blocked(
        self, argv: list[str] | str, search_path: str | None = None, cwd: str | None = None
    ) -> str | None:
        """Why a command may not run, or None when it may."""
        if isinstance(argv, str):
            argv = [argv]
        if not argv:
            return "empty command"
        if search_path is None:
            search_path = os.environ.get("PATH", os.defpath)
        seen = 0
        while argv and seen < 8:  # wrappers of wrappers, bounded
            seen += 1
            reason = self._one(argv, search_path, cwd)
            if reason:
                return reason
            inner = wrapped_command(argv)
            if inner is None:
                return None
            argv = inner
        return None

    def _one(self, argv: list[str], search_path: str, cwd: str | None) -> str | None:
        program = resolve(argv[0], search_path, cwd)
        shown = os.path.basename(argv[0])
        if self.denied:
            hit = program.names & self.denied
            if hit:
                return f"'{shown}' is in denied_commands ({', '.join(sorted(hit))})"
            stands_for = with_stand_ins(self.denied)
            stand_in = next((n for n in sorted(program.names) if n in stands_for), None)
            if stand_in is not None:
                return (
                    f"'{shown}' does the job of '{stands_for[stand_in]}', which is in "
                    "denied_commands"
                )
            digest = program.digest
            copied = self._denied_digests(search_path).get(digest) if digest else None
            if copied:
                return f"'{shown}' is a copy of '{copied}', which is in denied_commands"
        if self.allowed is not None:
            allowed = ", ".join(sorted(self.allowed)) or "(none)"
            if shown not in self.allowed:
                return f"'{shown}' is not in allowed_commands ({allowed})"
            # The allowed name must be the allowed program: the same file the name resolves
            # to on the system PATH, not a file of that name elsewhere.
            expected = resolve(shown, os.environ.get("PATH", os.defpath))
            if program.path != expected.path:
                return (
                    f"'{argv[0]}' is not the '{shown}' that allowed_commands allows "
                    f"({expected.path or 'not found on PATH'})"
                )
        if self.denied or self.allowed is not None:
            interpreter_allowed = self.allowed is not None and shown in self.allowed
            if not interpreter_allowed and inline_code(argv, {shown, *program.names}):
                return (
                    f"'{shown}' with inline code is refused where commands are denied "
                    "(allow the interpreter in allowed_commands to permit it)"
                )
        return None

    def _denied_digests(self, search_path: str) -> dict[str, str]:
        """SHA-256 -> name of each denied program found on *search_path*, looked up again
        when the last look is DIGESTS_FRESH seconds old (an engine keeps a policy for all
        runs of a runbook; a program installed or upgraded since is then seen)."""
        cache = self.__dict__.setdefault("_digests", {})
        key = (search_path, tuple(sorted(self.denied)))
        hit = cache.get(key)
        if hit is None or time.monotonic() - hit[0] > DIGESTS_FRESH:
            found: dict[str, str] = {}
            for name in key[1]:
                program = resolve(name, search_path)
                if program.digest:
                    found.setdefault(program.digest, name)
            hit = cache[key] = (time.monotonic(), found)
        return hit[1]

    def denies_env(self, name: str) -> bool:
        """True when *name* matches deny_env_vars."""
        key = tuple(self.deny_env)
        hit = self.__dict__.get("_env_match")
        if hit is None or hit[0] != key:
            # one regex for all patterns: a child's environment is filtered for every run
            pattern = "|".join(fnmatch.translate(p) for p in key) or r"(?!)"
            hit = self.__dict__["_env_match"] = (key, re.compile(pattern).match)
        return hit[1](name) is not None

    def child_env(
        self, base: Mapping[str, str], extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The environment of a child process: *base* plus *extra*, less denied variables."""
        env = {**base, **(extra or {})}
        if not self.deny_env:
            return env
        return {k: v for k, v in env.items() if not self.denies_env(k)}


# Redactor.text remembers its answers for strings up to MEMO_LENGTH characters, at most
# MEMO_SIZE of them.
MEMO_LENGTH = 256
MEMO_SIZE = 4096


class Redactor:
    """Replaces secrets in text and nested data before anything is written or shown."""

    def __init__(self, rules: Iterable[tuple[str, str]] = (), secrets: Iterable[str] = ()):
        self.defaults = [
            (re.compile(p), r, hints)
            for (p, r), hints in zip(DEFAULT_REDACT, DEFAULT_HINTS, strict=True)
        ]
        self.rules = [(re.compile(p), r) for p, r in rules]
        self._memo: dict[str, str] = {}  # short text -> redacted (see text)
        self.secrets: list[str] = []  # the values given (inherited by chained runs)
        self.forms: list[str] = []  # every form of them, longest first
        for s in secrets:
            self.add_secret(s)

    @classmethod
    def from_config(cls, *rule_lists: Iterable[Any], secrets: Iterable[str] = ()) -> Redactor:
        """Build from lists of gert.model.RedactRule (project, runbook, tool)."""
        rules = [(r.pattern, r.replace) for rules in rule_lists for r in rules or ()]
        return cls(rules, secrets)

    def add_secret(self, value: str) -> None:
        """Redact this value, in every form it may be encoded in, from now on."""
        if value and len(value) >= 3 and value not in self.secrets:
            self._memo.clear()  # earlier answers did not know this secret
            self.secrets.append(value)
            # Longest first, so a secret containing another is replaced whole.
            self.forms = sorted(set(self.forms) | secret_forms(value), key=len, reverse=True)

    def text(self, value: str) -> str:
        """Redact one string (a secret cut short at its end, as excerpts are, included)."""
        # A run redacts the same short strings again and again (its manifest after every
        # step): their answers are kept until a secret is added.
        short = len(value) <= MEMO_LENGTH
        if short:
            known = self._memo.get(value)
            if known is not None:
                return known
        original = value
        for secret in self.forms:
            if secret in value:
                value = value.replace(secret, "***")
        for secret in self.secrets:  # "…Zq9SECRE" where an excerpt was cut: no prefix kept
            for n in range(min(len(secret) - 1, len(value)), 3, -1):
                if value.endswith(secret[:n]):
                    value = value[:-n] + "***"
                    break
        # Most strings hold no hint word: one search rules them out. Long texts are
        # searched for words as plain substrings (a regex alternation is slow on megabytes).
        lower = value.lower()
        if not (len(value) >= 4096 or _has_hint(value, lower)):
            lower = ""
        for pattern, replacement, hints in self.defaults:
            if lower and any(h in lower for h in hints):
                value = pattern.sub(replacement, value)
        for pattern, replacement in self.rules:
            value = pattern.sub(replacement, value)
        if short:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[original] = value
        return value

    def data(self, value: Any) -> Any:
        """Redact every string inside nested dicts and lists (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                self.text(k) if isinstance(k, str) else k: (
                    "***"
                    if isinstance(k, str) and isinstance(v, str) and v and SECRET_KEYS.match(k)
                    else self.data(v)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
