"""``http`` steps: one request with httpx2; status, headers and body are the output."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gert.executors import StepContext, StepError, StepOutput
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
        import httpx2

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
        try:
            with httpx2.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
                response = client.request(r["method"], url, **kwargs)
        except httpx2.TimeoutException:
            out.timed_out = True
            out.error = f"HTTP request timed out after {timeout:g}s"
            return out
        except httpx2.HTTPError as e:
            out.error = f"HTTP request failed: {_reason(e)}"
            return out
        out.status_code = response.status_code
        out.headers = dict(response.headers)
        out.body = response.text
        with contextlib.suppress(ValueError):
            out.data, out.has_data = json.loads(out.body), True
        return out


def _reason(e: Exception) -> str:
    text = str(e) or type(e).__name__
    if "Connection refused" in text or "connect" in type(e).__name__.lower():
        return f"connection refused or unreachable ({text})"
    return text
