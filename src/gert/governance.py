"""Command policy and redaction (DESIGN §5 Governance).

The project's policy (gert.yaml) and the runbook's are intersected: a command runs only
when both allow it, and is blocked when either denies it (deny wins). Redaction applies
to everything gert writes or shows: trace, step files, manifests, posts.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Always on: shapes that are secrets wherever they appear. Runbooks and gert.yaml add more.
DEFAULT_REDACT: tuple[tuple[str, str], ...] = (
    (r"(?i)(authorization:\s*(?:bearer|basic|token)\s+)[^\s\"']+", r"\1***"),
    (
        r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)([\"']?\s*[=:]\s*[\"']?)(?!\*\*\*)[^\s\"',;&]+",
        r"\1\2***",
    ),
    (r"\bAKIA[0-9A-Z]{16}\b", "***"),
    (r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----", "***"),
)


@dataclass
class Policy:
    """The effective command policy of one run."""

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

    def blocked(self, argv0: str) -> str | None:
        """Why a command may not run, or None when it may."""
        name = os.path.basename(argv0)
        if name in self.denied:
            return f"'{name}' is in denied_commands"
        if self.allowed is not None and name not in self.allowed:
            allowed = ", ".join(sorted(self.allowed)) or "(none)"
            return f"'{name}' is not in allowed_commands ({allowed})"
        return None

    def child_env(
        self, base: Mapping[str, str], extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The environment of a child process: *base* plus *extra*, less denied variables."""
        env = {**base, **(extra or {})}
        return {
            k: v
            for k, v in env.items()
            if not any(fnmatch.fnmatchcase(k, p) for p in self.deny_env)
        }


# Every DEFAULT_REDACT pattern needs one of these words; most strings have none, so one
# search spares them the four patterns.
_DEFAULT_HINT = re.compile(
    r"(?i)authorization|passw|pwd|secret|token|api[_-]?key|access[_-]?key|AKIA|PRIVATE KEY"
)


class Redactor:
    """Replaces secrets in text and nested data before anything is written or shown."""

    def __init__(self, rules: Iterable[tuple[str, str]] = (), secrets: Iterable[str] = ()):
        self.defaults = [(re.compile(p), r) for p, r in DEFAULT_REDACT]
        self.rules = [(re.compile(p), r) for p, r in rules]
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    @classmethod
    def from_config(cls, *rule_lists: Iterable[Any], secrets: Iterable[str] = ()) -> Redactor:
        """Build from lists of gert.model.RedactRule (project, runbook, tool)."""
        rules = [(r.pattern, r.replace) for rules in rule_lists for r in rules or ()]
        return cls(rules, secrets)

    def add_secret(self, value: str) -> None:
        """Redact this exact value from now on (a secret input, a token)."""
        if value and len(value) >= 3 and value not in self.secrets:
            self.secrets.append(value)
            self.secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        """Redact one string."""
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, "***")
        if _DEFAULT_HINT.search(value):
            for pattern, replacement in self.defaults:
                value = pattern.sub(replacement, value)
        for pattern, replacement in self.rules:
            value = pattern.sub(replacement, value)
        return value

    def data(self, value: Any) -> Any:
        """Redact every string inside nested dicts and lists (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                self.text(k) if isinstance(k, str) else k: self.data(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
