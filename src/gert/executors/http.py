"""``http`` steps: one request with httpx2; status, headers and body are the output."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.executors import MAX_OUTPUT, StepContext, StepError, StepOutput
from gert.model import parse_duration
from gert.template import render, render_tree

DEFAULT_TIMEOUT = 30.0


class HttpExecutor:
    """Executes ``type: http`` steps."""

    def render(self, step: Any, values: Mapping[str, str], project_root: Path) -> dict[str, Any]:
        """Method, URL, headers, JSON or body, and the timeout in seconds."""
        h = step.http
        return {
            "method": h.method,
            "url": render(h.url, values),
            "headers": render_tree(h.headers, values),
            "json": render_tree(h.json_, values),
            "body": render(h.body, values) if h.body is not None else None,
            "timeout": parse_duration(h.timeout) if h.timeout is not None else None,
        }

    def execute(self, ctx: StepContext) -> StepOutput:
        """Send the rendered request; network faults become a recorded error, not an exception."""
        r = ctx.rendered
        url = r["url"]
        if not url.startswith(("http://", "https://")):
            raise StepError(f"URL must start with http:// or https://, got {url!r}")
        timeout = r.get("timeout") or ctx.timeout or DEFAULT_TIMEOUT
        request: dict[str, Any] = {
            "method": r["method"],
            "url": url,
            "headers": r.get("headers") or {},
        }
        kwargs: dict[str, Any] = {"headers": request["headers"]}
        if r.get("json") is not None:
            kwargs["json"] = request["json"] = r["json"]
        elif r.get("body") is not None:
            kwargs["content"] = request["body"] = r["body"]
        out = StepOutput(request=request)
        got = fetch(r["method"], url, timeout=timeout, **kwargs)
        out.status_code, out.headers = got.status_code, got.headers
        if got.error:
            out.error, out.timed_out = got.error, got.timed_out
            if got.timed_out and got.body:
                out.body = got.body
                out.truncated = {"body": got.dropped} if got.dropped else {}
            return out
        out.body = got.body
        if got.dropped:  # the first MAX_OUTPUT bytes are kept, the rest counted, as for commands
            out.truncated = {"body": got.dropped}
            return out
        with contextlib.suppress(ValueError):
            out.data, out.has_data = json.loads(out.body), True
        return out


@dataclass
class Fetched:
    """What one HTTP request brought back: the status, headers and (bounded) body, or
    why it failed."""

    status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    dropped: int = 0  # bytes of body past the limit, counted not kept
    error: str | None = None
    timed_out: bool = False


def fetch(
    method: str, url: str, *, timeout: float, limit: int = MAX_OUTPUT, **kwargs: Any
) -> Fetched:
    """Send one request with httpx2 under one deadline for the whole exchange (connecting,
    sending and reading the body: a server that drips a byte a second must not outlast
    it), keeping the first *limit* bytes of the body. Network faults are returned, not
    raised. *kwargs* go to httpx2 (headers, params, json, content)."""
    import httpx2

    out = Fetched()
    deadline = time.monotonic() + timeout
    kept = bytearray()
    encoding = "utf-8"
    try:
        with (
            httpx2.Client(
                timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls(url)
            ) as client,
            client.stream(method, url, **kwargs) as response,
        ):
            out.status_code = response.status_code
            out.headers = dict(response.headers)
            for chunk in response.iter_bytes():
                room = limit - len(kept)
                kept += chunk[:room]
                out.dropped += max(0, len(chunk) - room)
                if time.monotonic() > deadline:
                    raise httpx2.ReadTimeout("the whole request took too long")
            encoding = response.charset_encoding or "utf-8"
    except httpx2.TimeoutException:
        out.timed_out = True
        out.error = f"HTTP request timed out after {timeout:g}s"
    except httpx2.HTTPError as e:
        out.error = f"HTTP request failed: {_reason(e)}"
        return out
    try:
        out.body = bytes(kept).decode(encoding, errors="replace")
    except LookupError:  # a charset Python does not know
        out.body = bytes(kept).decode("utf-8", errors="replace")
    return out


_CONTEXT: list[Any] = []  # the TLS context, made once a process: it costs 30-200 ms


def _tls(url: str) -> Any:
    """What verifies the server: the process's one TLS context (the same trust roots a
    new client would load), or nothing for plain http:// (redirects are not followed)."""
    if not url.startswith("https://"):
        return False
    if not _CONTEXT:
        import httpx2

        _CONTEXT.append(httpx2.create_ssl_context(trust_env=False))
    return _CONTEXT[0]


def _reason(e: Exception) -> str:
    text = str(e) or type(e).__name__
    if "Connection refused" in text or "connect" in type(e).__name__.lower():
        return f"connection refused or unreachable ({text})"
    return text
