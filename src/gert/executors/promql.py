"""The built-in ``promql`` tool: PromQL through the Prometheus HTTP API.

Actions ``query`` (an instant query at ``time``, default now) and ``range`` (``start``,
``end``, ``step``). Times are ``now``, ``now-15m``, ISO 8601 or Unix seconds; the
evidence records them as ISO 8601 in UTC, so a replay with ``--rebase-time`` shifts them.
Vectors and matrices become rows: one column per label, then ``timestamp`` (ISO 8601)
and ``value`` (a number; ``NaN`` and infinities as text), a matrix giving one row per
sample. Server errors become ``success: false`` with Prometheus's error type; warnings
and infos are kept in ``metadata`` and told in ``message``.

Templates in the query may stand only inside quoted label values, escaped there
(:mod:`gert.validate.querytext`). Auth is a bearer token (``token_env``) or basic auth
(``username`` and ``password_env``), each secret named by its environment variable;
``tenant`` sets ``X-Scope-OrgID`` (Mimir, Cortex, Thanos).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from gert.executors import StepError
from gert.executors.queries import (
    Answer,
    columns_of,
    cut,
    duration_seconds,
    failure,
    fetch_json,
    http_query,
    iso,
    iso_seconds,
    query_time,
    records,
    time_range,
    truncation_message,
)

ENGINE = "prometheus"
LAST = ["timestamp", "value"]


def number(text: Any) -> Any:
    """A sample value as JSON keeps it: a whole number as an int, NaN and ±Inf as text."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return text
    if not math.isfinite(v):
        return str(text)
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def _sample(pair: Any) -> tuple[str, Any]:
    if isinstance(pair, list) and len(pair) == 2:
        return iso_seconds(float(pair[0])), number(pair[1])
    raise ValueError(f"a sample is [time, value], not {str(pair)[:80]}")


def _histogram(pair: Any) -> tuple[str, Any]:
    t, h = pair  # a native histogram: its count stands for the value
    return iso_seconds(float(t)), number((h or {}).get("count"))


def _labels(metric: Mapping[str, Any]) -> dict[str, Any]:
    # A label called like a fixed column keeps its value under label_<name>.
    return {(f"label_{k}" if k in LAST else str(k)): v for k, v in (metric or {}).items()}


def flatten(result_type: str, result: Any) -> tuple[list[dict[str, Any]], int]:
    """Rows of a Prometheus-format result (vector, matrix, scalar, string) and how many
    series it held."""
    rows: list[dict[str, Any]] = []
    if result_type in ("scalar", "string"):
        t, v = _sample(result)
        return [{"timestamp": t, "value": v}], 1
    if not isinstance(result, list):
        raise ValueError(f"a {result_type} result is a list of series")
    for series in result:
        labels = _labels(series.get("metric", {}))
        if result_type == "vector":
            samples = [_sample(series["value"])] if "value" in series else []
            if "histogram" in series:
                samples.append(_histogram(series["histogram"]))
        else:
            samples = [_sample(p) for p in series.get("values") or []]
            samples += [_histogram(p) for p in series.get("histograms") or []]
            samples.sort(key=lambda s: s[0])
        rows += [{**labels, "timestamp": t, "value": v} for t, v in samples]
    return rows, len(result)


def envelope_of(
    body: Any,
    elapsed: float,
    limit: int,
    engine: str,
    *,
    first: list[str],
    last: list[str] = LAST,
    rows_of: Callable[[str, Any], tuple[list[dict[str, Any]], int]] = flatten,
    **meta: Any,
) -> dict[str, Any]:
    """The envelope of a Prometheus-format answer (Prometheus, and Loki, whose *rows_of*
    also reads log streams)."""
    if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
        return failure("the answer is not a Prometheus API response", engine)
    warnings = [str(w) for w in body.get("warnings") or []]
    infos = [str(w) for w in body.get("infos") or []]
    if body["status"] == "error":
        kind = body.get("errorType") or "error"
        return failure(
            f"{kind}: {body.get('error') or 'no message'}",
            engine,
            error_type=kind,
            warnings=warnings or None,
        )
    data = body.get("data") or {}
    if not isinstance(data, dict):
        return failure("the answer's data is not an object", engine)
    result_type = str(data.get("resultType", ""))
    try:
        rows, series = rows_of(result_type, data.get("result"))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, OverflowError) as e:
        return failure(f"cannot read the {result_type or 'unknown'} result: {e}", engine)
    kept, truncated = cut(rows, limit)
    head = [c for c in first if any(c in r for r in kept)]
    notes = [truncation_message(truncated)] if truncated else []
    notes += [f"warning: {w}" for w in warnings] + [f"info: {i}" for i in infos]
    return records(
        columns_of(kept, head, [c for c in last if any(c in r for r in kept)] or last),
        kept,
        elapsed,
        engine,
        message="; ".join(n for n in notes if n) or None,
        result_type=result_type,
        series=series,
        warnings=warnings,
        infos=infos,
        **truncated,
        **meta,
    )


def run(action: str, args: Mapping[str, Any], env: Mapping[str, str], timeout: float) -> Answer:
    """Run one PromQL query and return the request and its envelope."""
    q = http_query("promql", action, args, env)
    request, now = q.request, dt.datetime.now(dt.UTC)
    form: dict[str, str] = {"query": q.query, "timeout": f"{timeout * 0.9:.3f}"}
    if action == "query":
        at = query_time(args.get("time", "now"), now, "time")
        request["time"] = form["time"] = iso(at)
        path = "/api/v1/query"
    elif action == "range":
        start, end = time_range(args, now)
        step = duration_seconds(str(args.get("step")), "step")
        if step <= 0:
            raise StepError("step must be longer than zero")
        if (end - start).total_seconds() / step > 11_000:
            raise StepError(
                "start to end at this step is more than 11,000 points a series "
                "(Prometheus refuses it): use a larger step"
            )
        request["start"], request["end"] = form["start"], form["end"] = iso(start), iso(end)
        request["step"] = form["step"] = f"{step:g}"
        path = "/api/v1/query_range"
    else:
        raise StepError(f"built-in tool 'promql' has no action '{action}' (query, range)")
    began = time.perf_counter()
    body, failed, timed_out = fetch_json(
        "POST", q.base + path, ENGINE, timeout=timeout, data=form, headers=q.headers
    )
    if failed:
        return Answer(request, failed, timed_out)
    result = envelope_of(body, time.perf_counter() - began, q.limit, ENGINE, first=["__name__"])
    return Answer(request, result)
