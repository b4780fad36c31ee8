"""Who is asking: API tokens from ``gert.yaml`` (each read from its environment variable,
kept only as a SHA-256), and the roles they carry.

Without tokens the server is read-only for anyone who can reach it, and it only listens
on the loopback interface. With tokens, every request names one: ``Authorization: Bearer
TOKEN`` for the API, or the cookie the sign-in page sets for a browser.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

ROLES = ("viewer", "operator", "approver")  # each may do what the ones before it may
COOKIE = "gert_session"  # a signed session, never the token itself


@dataclass(frozen=True)
class Caller:
    """Who made a request, and what their role allows."""

    name: str
    role: str

    @property
    def actor(self) -> str:
        """As the trace records who acted: ``user:<name>``."""
        return f"user:{self.name}"

    def may(self, role: str) -> bool:
        """True when this caller's role includes *role*."""
        return ROLES.index(self.role) >= ROLES.index(role)


ANONYMOUS = Caller("anonymous", "viewer")


class NotSignedIn(Exception):
    """A page asked for without a token that names someone (the app sends the browser to
    the sign-in page)."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class Tokens:
    """The configured tokens, by the SHA-256 of their secret."""

    def __init__(self, config: Any, environ: dict[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.required = bool(config.tokens)
        self.missing: list[str] = []  # tokens whose variable is not set: they admit nobody
        self._by_digest: dict[bytes, Caller] = {}
        for t in config.tokens:
            secret = env.get(t.env, "")
            if len(secret) < 16:
                self.missing.append(
                    f"{t.name} (${t.env} {'is shorter than 16 characters' if secret else 'is not set'})"
                )
                continue
            self._by_digest[_digest(secret)] = Caller(t.name, t.role)

    def named(self, name: str, role: str) -> Caller | None:
        """The caller a session names, while a token of that name and role is configured."""
        for caller in self._by_digest.values():
            if caller.name == name and caller.role == role:
                return caller
        return None

    def caller(self, token: str | None) -> Caller | None:
        """The caller a token names; None when it names none (or none was given)."""
        if not self.required:
            return ANONYMOUS
        if not token:
            return None
        given = _digest(token)
        for digest, caller in self._by_digest.items():
            if hmac.compare_digest(digest, given):
                return caller
        return None


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header."""
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None
