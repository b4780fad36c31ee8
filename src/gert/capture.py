"""Captures and assertions: turning a step's output into string values and checks.

Captures are strings. A JSONPath that matches several values joins them with
newlines; one that matches nothing gives ``""``, so a query that returned no rows yields
empty captures and the step passes: an empty result is a signal.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from gert.errors import GertError
from gert.executors import StepOutput


class CaptureError(GertError):
    """A capture or assertion that cannot be evaluated on this output."""


def to_text(value: Any) -> str:
    """The capture text of a JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _data(out: StepOutput, kind: str) -> Any:
    if out.has_data:
        return out.data
    text = out.body if kind == "http" else out.stdout
    try:
        return json.loads(text or "")
    except ValueError:
        what = "body" if kind == "http" else "output"
        raise CaptureError(f"the {what} is not JSON: {(text or '')[:80]!r}") from None


def _chomp(text: str) -> str:
    """Output without the one newline that ends its last line (``host: stdout`` of
    ``hostname`` is ``vm``, not ``vm\n``), as a shell's ``$(...)`` takes it."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


@functools.lru_cache(maxsize=512)
def _jsonpath(source: str) -> Any:
    """A JSONPath compiled once (a replay of a thousand scenarios asks for the same few)."""
    import jsonpath

    return jsonpath.compile(source)


def source_value(source: str, out: StepOutput, kind: str) -> str:
    """The text of one capture source in a step's output."""
    if source == "stdout":
        return _chomp(out.stdout)
    if source == "stderr":
        return _chomp(out.stderr)
    if source == "exit_code":
        return "" if out.exit_code is None else str(out.exit_code)
    if source == "status_code":
        return "" if out.status_code is None else str(out.status_code)
    if source == "body":
        return out.body or ""
    if source.startswith("header."):
        name = source[len("header.") :].lower()
        return next((v for k, v in out.headers.items() if k.lower() == name), "")
    if source.startswith("evidence."):
        ev = out.evidence.get(source[len("evidence.") :]) or {}
        if ev.get("kind") == "checklist":
            return "\n".join(k for k, ticked in ev["items"].items() if ticked)
        return str(ev.get("value", ev.get("stored", "")))
    if source == "row_count":
        data = _data(out, kind)
        if isinstance(data, dict) and "rowCount" in data:
            return str(data["rowCount"])
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            return str(len(data["data"]))
        if isinstance(data, list):
            return str(len(data))
        raise CaptureError("row_count needs a query envelope ({rowCount, data})")
    if source.startswith("$"):
        matches = _jsonpath(source).findall(_data(out, kind))
        return "\n".join(to_text(m) for m in matches)
    raise CaptureError(f"unknown capture source '{source}'")


# A capture is a value to decide on and to pass on, not a place to keep output: the step
# record keeps the output. Past this it is cut, and says so.
MAX_CAPTURE = 64 * 1024


def cap(text: str, limit: int = MAX_CAPTURE) -> str:
    """*text*, cut to *limit* characters with a note of how many were left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit} more characters in the step record)"


def take_captures(step: Any, out: StepOutput) -> dict[str, str]:
    """Every capture a step declares, from its output."""
    if out.given_captures is not None:  # a canned response that says what it captured
        return {name: cap(text) for name, text in out.given_captures.items()}
    values: dict[str, str] = {}
    for name, spec in step.capture.items():
        source = spec if isinstance(spec, str) else spec.from_
        try:
            text = source_value(source, out, step.type)
        except CaptureError as e:
            raise CaptureError(f"capture '{name}' ({source}): {e}") from None
        if not isinstance(spec, str) and spec.pattern:
            m = re.search(spec.pattern, text)
            text = (m.group(1) if m.groups() else m.group(0)) if m else ""
        values[name] = cap(text)
    if getattr(step, "choices", None) and out.choice is not None:
        values[step.choices.variable] = out.choice
    return values


def check_assertions(step: Any, out: StepOutput) -> list[dict[str, Any]]:
    """Evaluate a step's assertions; each result has check, expected, actual, passed."""
    results = []
    default_source = "body" if step.type == "http" else "stdout"
    for a in step.assertions:
        check = a.check
        expected: Any = getattr(a, check)
        source = a.source or default_source
        try:
            if check == "exit_code":
                actual: Any = out.exit_code
                passed = actual == expected
            elif check == "status_code":
                actual = out.status_code
                passed = actual == expected
            elif check == "json_path":
                import jsonpath

                matches = jsonpath.findall(expected.path, _data(out, step.type))
                actual = (
                    to_text(matches[0])
                    if len(matches) == 1
                    else "\n".join(to_text(m) for m in matches)
                )
                passed = actual == to_text(expected.equals)
                expected = {"path": expected.path, "equals": expected.equals}
            else:
                actual = source_value(source, out, step.type)
                if check == "contains":
                    passed = str(expected) in actual
                elif check == "not_contains":
                    passed = str(expected) not in actual
                elif check == "matches":
                    passed = re.search(str(expected), actual) is not None
                elif check == "equals":
                    passed = actual.strip() == to_text(expected)
                else:  # not_equals
                    passed = actual.strip() != to_text(expected)
        except CaptureError as e:
            actual, passed = f"<{e}>", False
        result = {"check": check, "expected": expected, "actual": _short(actual), "passed": passed}
        if check not in ("exit_code", "status_code", "json_path"):
            result["source"] = source
        if a.message:
            result["message"] = a.message
        results.append(result)
    return results


def _short(value: Any, limit: int = 500) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... ({len(value)} chars)"
    return value
