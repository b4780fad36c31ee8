"""The built-in ``loki`` tool: LogQL through Loki's HTTP API.

Actions ``query`` (at ``time``, default now) and ``query_range`` (``start``, ``end``,
optional ``step`` for metric queries). A log query's streams become one row per line:
a column per stream label, then ``timestamp`` (ISO 8601 with Loki's nanoseconds) and
``line``, newest first unless ``direction: forward``. A metric query (``rate(...)``,
``count_over_time(...)``) gives rows as the ``promql`` tool does. ``limit`` (default
10,000) is sent to Loki as its line limit; an answer that fills it says so
(``metadata.limited``), since more lines may match.

Templates in the query may stand only inside quoted values — label matchers, line
filters, label filters — escaped there (:mod:`gert.validate.querytext`). Auth and
``tenant`` (``X-Scope-OrgID``) as for ``promql``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from gert.executors import StepError
from gert.executors.promql import envelope_of, flatten
from gert.executors.queries import (
    Answer,
    duration_seconds,
    fetch_json,
    http_query,
    iso,
    iso_nanoseconds,
    query_time,
    time_range,
)

ENGINE = "loki"


def _nanoseconds(t: dt.datetime) -> str:
    return str(int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000)


def rows_of(backward: bool) -> Any:
    """A reader of Loki's results: streams as one row per line, metrics as in promql."""

    def read(result_type: str, result: Any) -> tuple[list[dict[str, Any]], int]:
        if result_type != "streams":
            return flatten(result_type, result)
        if not isinstance(result, list):
            raise ValueError("a streams result is a list of streams")
        lines: list[tuple[int, dict[str, Any]]] = []
        for stream in result:
            labels = {
                (f"label_{k}" if k in ("timestamp", "line") else str(k)): v
                for k, v in (stream.get("stream") or {}).items()
            }
            for entry in stream.get("values") or []:
                ns = int(entry[0])
                lines.append((ns, {**labels, "timestamp": iso_nanoseconds(ns), "line": entry[1]}))
        lines.sort(key=lambda e: e[0], reverse=backward)
        return [row for _, row in lines], len(result)

    return read


def run(action: str, args: Mapping[str, Any], env: Mapping[str, str], timeout: float) -> Answer:
    """Run one LogQL query and return the request and its envelope."""
    q = http_query("loki", action, args, env)
    request, now = q.request, dt.datetime.now(dt.UTC)
    direction = str(args.get("direction") or "backward")
    if direction not in ("backward", "forward"):
        raise StepError(f"direction is backward or forward, not {direction!r}")
    params: dict[str, str] = {"query": q.query, "limit": str(q.limit), "direction": direction}
    if action == "query":
        at = query_time(args.get("time", "now"), now, "time")
        request["time"] = iso(at)
        params["time"] = _nanoseconds(at)
        path = "/loki/api/v1/query"
    elif action == "query_range":
        start, end = time_range(args, now)
        request["start"], request["end"] = iso(start), iso(end)
        params["start"], params["end"] = _nanoseconds(start), _nanoseconds(end)
        if args.get("step") not in (None, ""):
            step = duration_seconds(str(args["step"]), "step")
            request["step"] = params["step"] = f"{step:g}"
        path = "/loki/api/v1/query_range"
    else:
        raise StepError(f"built-in tool 'loki' has no action '{action}' (query, query_range)")
    if direction == "forward":
        request["direction"] = direction
    began = time.perf_counter()
    body, failed, timed_out = fetch_json(
        "GET", q.base + path, ENGINE, timeout=timeout, params=params, headers=q.headers
    )
    if failed:
        return Answer(request, failed, timed_out)
    data = body.get("data") if isinstance(body, dict) else None
    streams = isinstance(data, dict) and data.get("resultType") == "streams"
    result = envelope_of(
        body,
        time.perf_counter() - began,
        q.limit,
        ENGINE,
        first=[],
        last=["timestamp", "line"] if streams else ["timestamp", "value"],
        rows_of=rows_of(direction == "backward"),
    )
    if streams and result["success"] and result["rowCount"] >= q.limit:
        result["metadata"]["limited"] = True
        note = (
            f"the answer holds the limit of {q.limit:,} lines: more may match "
            "(narrow the query or raise limit)"
        )
        result["message"] = "; ".join(filter(None, [result.get("message"), note]))
    return Answer(request, result)
