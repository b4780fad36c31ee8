"""What the built-in query tools share: the query envelope, row limits, query times,
secrets named by environment variable, and a deadline around a client call.

Every query tool (``sql``, ``promql``, ``loki``, ``kusto``, ``elasticsearch``) answers
with the same envelope, ``{success, rowCount, columns, data, message?, metadata}``, so
captures (``row_count``, ``$.data[0].x``), assertions, scenarios and replay treat them
alike. Timestamps in rows and requests are ISO 8601 in UTC, so ``--rebase-time`` shifts
them like every other recorded time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from gert.executors import StepError

DEFAULT_LIMIT = 10_000  # rows a query tool keeps unless the step's `limit` says otherwise
MAX_LIMIT = 100_000  # the most a step may ask for
DEFAULT_TIMEOUT = 30.0  # seconds, when neither the step nor the runbook gives one

T = TypeVar("T")


def plain(v: Any) -> Any:
    """A value as JSON keeps it: bytes as hex, dates and decimals as their text."""
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # NaN and infinities have no JSON form
    if isinstance(v, str | int | float | bool | dict | list) or v is None:
        return v  # dicts and lists: JSON a service sent (Kusto's dynamic)
    return str(v)  # dates, decimals, UUIDs, timespans: their text


def envelope(
    columns: list[str],
    rows: list[tuple[Any, ...]],
    elapsed: float,
    engine: str,
    **metadata: Any,
) -> dict[str, Any]:
    """The query envelope for a result set (rows as tuples in column order)."""
    data = [dict(zip(columns, (plain(v) for v in row), strict=True)) for row in rows]
    return records(columns, data, elapsed, engine, **metadata)


def records(
    columns: list[str],
    data: list[dict[str, Any]],
    elapsed: float,
    engine: str,
    *,
    message: str | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    """The query envelope for rows already shaped as ``{column: value}``."""
    out: dict[str, Any] = {
        "success": True,
        "rowCount": len(data),
        "columns": columns,
        "data": data,
    }
    if message:
        out["message"] = message
    meta = {"engine": engine, "elapsed_ms": round(elapsed * 1000, 3)}
    meta.update({k: v for k, v in metadata.items() if v not in (None, [], {}, False)})
    out["metadata"] = meta
    return out


def failure(message: str, engine: str, **metadata: Any) -> dict[str, Any]:
    """The envelope of a query that failed."""
    meta = {"engine": engine, **{k: v for k, v in metadata.items() if v is not None}}
    return {
        "success": False,
        "rowCount": 0,
        "columns": [],
        "data": [],
        "message": message,
        "metadata": meta,
    }


def columns_of(rows: list[dict[str, Any]], first: list[str], last: list[str]) -> list[str]:
    """The columns of rows shaped as mappings: *first*, every other key sorted, *last*."""
    seen = {k for row in rows for k in row} - set(first) - set(last)
    return [*first, *sorted(seen), *last]


def limit_of(args: Mapping[str, Any]) -> int:
    """The step's row limit (``limit``), checked."""
    value = args.get("limit", DEFAULT_LIMIT)
    try:
        n = int(str(value))
    except ValueError:
        raise StepError(f"limit must be a whole number of rows, not {value!r}") from None
    if not 1 <= n <= MAX_LIMIT:
        raise StepError(f"limit must be between 1 and {MAX_LIMIT:,} rows, not {n}")
    return n


def cut(rows: list[T], limit: int) -> tuple[list[T], dict[str, Any]]:
    """The first *limit* rows, and the metadata that says how many were dropped."""
    if len(rows) <= limit:
        return rows, {}
    return rows[:limit], {"truncated": {"rows": len(rows) - limit, "limit": limit}}


def truncation_message(meta: Mapping[str, Any]) -> str | None:
    """What to tell the reader of rows dropped at the limit."""
    t = meta.get("truncated")
    if not t:
        return None
    return (
        f"{t['rows']:,} more rows were dropped at the limit of {t['limit']:,} (the step's `limit`)"
    )


# --------------------------------------------------------------------------- times

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_RELATIVE = re.compile(r"now\s*(?:([+-])\s*(\S+))?\Z")


def duration_seconds(text: str, what: str) -> float:
    """Seconds in a Prometheus-style duration (``90``, ``30s``, ``1h30m``, ``7d``)."""
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise StepError(f"{what} {text!r} is not a duration (write 30s, 5m, 1h30m, 7d)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def query_time(value: Any, now: dt.datetime, what: str) -> dt.datetime:
    """A query time: ``now``, ``now-15m``, an ISO 8601 time, or Unix seconds."""
    text = str(value).strip()
    m = _RELATIVE.match(text)
    if m:
        if not m.group(1):
            return now
        delta = dt.timedelta(seconds=duration_seconds(m.group(2), what))
        return now - delta if m.group(1) == "-" else now + delta
    try:
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise StepError(
            f"{what} {text!r} is not a time (write now, now-15m, an ISO 8601 time or Unix seconds)"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def iso_seconds(seconds: float) -> str:
    """Unix seconds as ISO 8601 in UTC with milliseconds."""
    t = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return f"{t.isoformat(timespec='milliseconds')[:23]}Z"


def iso_nanoseconds(ns: int) -> str:
    """Unix nanoseconds as ISO 8601 in UTC with all nine digits (log lines keep their order)."""
    seconds, rest = divmod(int(ns), 1_000_000_000)
    t = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{rest:09d}Z"


def iso(t: dt.datetime) -> str:
    """A datetime as ISO 8601 in UTC with milliseconds."""
    return iso_seconds(t.timestamp())


# --------------------------------------------------------------------------- secrets


def secret(env: Mapping[str, str], args: Mapping[str, Any], arg: str) -> str | None:
    """The value of the environment variable the step names in *arg* (never the value
    itself: runbooks hold names, the environment holds secrets); None when not asked."""
    name = args.get(arg)
    if name in (None, ""):
        return None
    name = str(name)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise StepError(f"{arg} names an environment variable; {name!r} is not a variable name")
    value = env.get(name)
    if not value and os.environ.get(name):
        raise StepError(
            f"environment variable {name} ({arg}) is set, but deny_env_vars (in gert.yaml "
            "or the runbook's governance) hides it from steps, and a query tool reads only "
            "what a step may see: take its pattern out of deny_env_vars for this project, "
            "or keep the credential in a variable the project lets steps read"
        )
    if not value:
        raise StepError(f"environment variable {name} ({arg}) is not set")
    return value


def auth_request(args: Mapping[str, Any]) -> dict[str, Any]:
    """How a step authenticates, as the evidence records it: variable names only."""
    return {k: args[k] for k in AUTH_ARGS if args.get(k) not in (None, "")}


AUTH_ARGS = ("token_env", "username", "password_env", "api_key_env")


def http_auth(env: Mapping[str, str], args: Mapping[str, Any]) -> dict[str, str]:
    """The Authorization header for bearer-token or basic auth named by the step."""
    import base64

    token = secret(env, args, "token_env")
    password = secret(env, args, "password_env")
    if token and password:
        raise StepError("give token_env or username and password_env, not both")
    if token:
        return {"Authorization": f"Bearer {token}"}
    if password is not None or args.get("username"):
        if password is None or not args.get("username"):
            raise StepError("basic auth needs both username and password_env")
        pair = f"{args['username']}:{password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


def public_url(url: str) -> str:
    """A URL as the evidence shows it: without user:password@."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url, flags=re.I)


def loopback(url: str) -> bool:
    """True when *url* points at this machine (a local emulator or test server)."""
    from urllib.parse import urlsplit

    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def http_url(url: Any, what: str = "url") -> str:
    """A server's base URL, checked: http:// or https://, no trailing slash."""
    text = str(url or "").strip()
    if not text.startswith(("http://", "https://")):
        raise StepError(f"{what} must start with http:// or https://, got {text!r}")
    return text.rstrip("/")


# --------------------------------------------------------------------------- deadlines


class Late(Exception):
    """A call that did not finish before its deadline."""


def before_deadline(call: Callable[[], T], timeout: float) -> T:
    """The result of *call*, or :class:`Late` after *timeout* seconds (for clients whose
    own timeouts bound each socket read, not the whole call). A late call is left to
    finish on its own daemon thread; its result is thrown away."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = call()
        except BaseException as e:  # handed to the caller below
            box["error"] = e

    worker = threading.Thread(target=work, daemon=True, name="gert-query")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise Late(f"no answer within {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


# --------------------------------------------------------------------------- answers


@dataclass
class Answer:
    """What a query tool did: the request as the evidence records it, and the envelope."""

    request: dict[str, Any]
    result: dict[str, Any]
    timed_out: bool = False


def fetch_json(
    method: str, url: str, engine: str, *, timeout: float, **kwargs: Any
) -> tuple[Any, dict[str, Any] | None, bool]:
    """One HTTP exchange with a JSON API: (the decoded body, or None; the failure envelope
    when the exchange itself failed, or None; whether it timed out). An error status with
    a JSON body is the caller's to read; anything else that is not JSON is a failure."""
    from gert.executors.http import fetch

    got = fetch(method, url, timeout=timeout, **kwargs)
    if got.error:
        return None, failure(got.error, engine), got.timed_out
    if got.dropped:
        return (
            None,
            failure(
                f"the answer is larger than {len(got.body.encode()) // (1024 * 1024)} MiB; "
                "narrow the query (fewer series, a shorter range or a larger step)",
                engine,
                status=got.status_code,
            ),
            False,
        )
    try:
        return json.loads(got.body), None, False
    except ValueError:
        text = " ".join(got.body.split())[:300] or "(empty body)"
        return (
            None,
            failure(f"HTTP {got.status_code}: {text}", engine, status=got.status_code),
            False,
        )


@dataclass
class HttpQuery:
    """The parts every HTTP query tool starts from: server, query text, row limit, the
    request as recorded (credentials by variable name) and the headers to send."""

    base: str
    query: str
    limit: int
    request: dict[str, Any]
    headers: dict[str, str]


def http_query(
    tool: str, action: str, args: Mapping[str, Any], env: Mapping[str, str]
) -> HttpQuery:
    """Check a step's common args and build its :class:`HttpQuery`."""
    base = http_url(args.get("url"))
    query = str(args.get("query") or "")
    if not query.strip():
        raise StepError(f"the {tool} tool needs a query")
    request: dict[str, Any] = {"tool": tool, "action": action, "url": public_url(base)}
    request["query"] = query
    request.update(auth_request(args))
    headers = http_auth(env, args)
    if args.get("tenant"):  # multi-tenant Loki, Mimir, Cortex, Thanos
        headers["X-Scope-OrgID"] = request["tenant"] = str(args["tenant"])
    return HttpQuery(base, query, limit_of(args), request, headers)


def time_range(args: Mapping[str, Any], now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """A step's ``start`` and ``end``, checked."""
    start = query_time(args.get("start"), now, "start")
    end = query_time(args.get("end", "now"), now, "end")
    if end < start:
        raise StepError(f"end ({iso(end)}) is before start ({iso(start)})")
    return start, end
