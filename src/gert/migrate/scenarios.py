"""kernel/v0 scenarios (``scenario.yaml``) and tests (``test.yaml``) as gert's
hand-written scenarios: ``inputs.yaml``, ``scenario.yaml`` (tool_responses, evidence) and
``test.yaml``."""

from __future__ import annotations

import re
from typing import Any

from gert.migrate.conditions import go_sprint
from gert.migrate.runbook import Converted
from gert.migrate.source import Source

SCENARIO_KEYS = {"inputs", "tool_responses", "evidence"}
RESPONSE_KEYS = {"exit_code", "stdout", "stderr", "outputs"}
TEST_KEYS = {"description", "tags", "expected_status", "expected_outcome", "expected_code"}
TEST_KEYS |= {"must_reach", "must_not_reach", "expected_outputs"}
_COMPARE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


def _text(value: Any) -> str:
    """A scenario value as gert's text (Go's fmt.Sprint of what YAML read)."""
    return value if isinstance(value, str) else go_sprint(value)


def convert_scenario(src: Source, rb: Converted) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs.yaml, scenario.yaml) of a kernel scenario (lenient, as the kernel reads it)."""
    data = src.data if isinstance(src.data, dict) else {}
    if not isinstance(src.data, dict):
        src.refuse((), "scenario", "must be a mapping")
    for key in data:
        if key not in SCENARIO_KEYS:
            src.note(
                (key,),
                "dropped",
                f"scenario field '{key}'",
                "ignored by gert's Go implementation's test runner",
            )
    inputs: dict[str, Any] = {}
    raw_inputs = data.get("inputs")
    if raw_inputs is not None and not isinstance(raw_inputs, dict):
        src.refuse(("inputs",), "inputs", "must be a mapping")
        raw_inputs = {}
    for k, v in (raw_inputs or {}).items():
        if isinstance(v, dict | list):
            src.refuse(
                ("inputs", k), f"input '{k}'", "gert's inputs are text, not mappings or lists"
            )
            continue
        inputs[str(k)] = _text(v)
    scenario: dict[str, Any] = {}
    responses: dict[str, list[dict[str, Any]]] = {}
    raw = data.get("tool_responses")
    if raw is not None and not isinstance(raw, dict):
        src.refuse(("tool_responses",), "tool_responses", "must be a mapping")
        raw = {}
    for key, items in (raw or {}).items():
        kp = ("tool_responses", key)
        if not isinstance(items, list):
            src.refuse(kp, f"tool_responses '{key}'", "must be a list of responses")
            continue
        out = []
        for i, item in enumerate(items):
            ip = (*kp, i)
            if not isinstance(item, dict):
                src.refuse(ip, f"tool_responses '{key}'", "a response is a mapping")
                continue
            for k in item:
                if k not in RESPONSE_KEYS:
                    src.note(
                        (*ip, k),
                        "dropped",
                        f"response field '{k}'",
                        "ignored by gert's Go implementation",
                    )
            exit_code = item.get("exit_code", 0)
            if not isinstance(exit_code, int) or isinstance(exit_code, bool):
                src.refuse(
                    (*ip, "exit_code"),
                    f"tool_responses '{key}'",
                    "exit_code must be a whole number",
                )
                continue
            response: dict[str, Any] = {"exit_code": exit_code}
            for stream in ("stdout", "stderr"):
                if item.get(stream) is not None:
                    response[stream] = _text(item[stream])
            outputs = item.get("outputs")
            if outputs is not None and not isinstance(outputs, dict):
                src.refuse((*ip, "outputs"), f"tool_responses '{key}'", "outputs must be a mapping")
                continue
            # The kernel's replay never extracts: only the outputs given count.
            response["captures"] = {str(k): _text(v) for k, v in (outputs or {}).items()}
            out.append(response)
        responses[str(key)] = out
        src.note(
            kp,
            "converted",
            f"tool_responses '{key}'",
            f"{len(out)} response(s), taken in call order; outputs given as the captures",
        )
    if responses:
        scenario["tool_responses"] = responses
    evidence: dict[str, Any] = {}
    raw_ev = data.get("evidence")
    if raw_ev is not None and not isinstance(raw_ev, dict):
        src.refuse(("evidence",), "evidence", "must be a mapping")
        raw_ev = {}
    for step_id, values in (raw_ev or {}).items():
        ep = ("evidence", step_id)
        if not isinstance(values, dict):
            src.refuse(ep, f"evidence '{step_id}'", "must map evidence names to values")
            continue
        specs = {e["name"]: e for e in rb.manual.get(str(step_id), [])}
        answer: dict[str, Any] = {}
        for name, value in values.items():
            spec = specs.get(str(name))
            if spec is not None and spec["kind"] == "checklist":
                answer[str(name)] = [i.strip() for i in _text(value).split(",") if i.strip()]
            else:
                answer[str(name)] = _text(value)
        evidence[str(step_id)] = answer
    for step_id, specs in sorted(rb.manual.items()):
        missing = [e for e in specs if e["name"] not in evidence.get(step_id, {})]
        if missing:
            entry = evidence.setdefault(step_id, {})
            for e in missing:
                entry[e["name"]] = [] if e["kind"] == "checklist" else ""
    if evidence:
        scenario["evidence"] = evidence
        src.note(
            ("evidence",) if raw_ev else (),
            "differs",
            "evidence",
            "every manual step gets its evidence (gert's Go implementation's test runner "
            "gives it to the first manual prompt only); evidence the scenario lacks is empty",
        )
    return inputs, scenario


def convert_test(src: Source, rb: Converted, inputs: dict[str, str]) -> dict[str, Any]:
    """test.yaml of a kernel test, each key in gert's terms (or noted where it cannot be)."""
    data = src.data if isinstance(src.data, dict) else {}
    if not isinstance(src.data, dict):
        src.refuse((), "test", "must be a mapping")
    for key in data:
        if key not in TEST_KEYS:
            src.note(
                (key,),
                "dropped",
                f"test field '{key}'",
                "ignored by gert's Go implementation's test runner",
            )
    out: dict[str, Any] = {}
    if data.get("description") is not None:
        out["description"] = _text(data["description"])
    if data.get("tags") is not None:
        src.note(("tags",), "dropped", "tags", "ignored by gert's Go implementation's test runner")
    status = data.get("expected_status")
    outcome = data.get("expected_outcome")
    code = data.get("expected_code")
    if outcome not in (None, ""):
        out["expected_outcome"] = _text(outcome)
        src.note(
            ("expected_outcome",),
            "converted",
            "expected_outcome",
            "expected_outcome (the outcome's state)",
        )
    if status is not None:
        status = _text(status)
        if status == "completed":
            if "expected_outcome" in out:
                src.note(
                    ("expected_status",),
                    "converted",
                    "expected_status",
                    "completed: implied by expected_outcome",
                )
            else:
                src.note(
                    ("expected_status",),
                    "differs",
                    "expected_status",
                    "completed (some end step reached) has no test.yaml key in gert without "
                    "the outcome's state; not checked",
                )
        elif status in ("failed", "error"):
            if "expected_outcome" in out:
                src.refuse(
                    ("expected_status",),
                    "expected_status",
                    f"{status} together with an outcome cannot both hold",
                )
            else:
                out["expected_outcome"] = "error"
                src.note(
                    ("expected_status",),
                    "differs",
                    "expected_status",
                    f"{status}: expected_outcome error (which covers failed and error runs alike)",
                )
        else:
            src.refuse(
                ("expected_status",),
                "expected_status",
                f"{status!r} is not completed, failed or error",
            )
    elif outcome == "":
        out["expected_outcome"] = "error"
        src.note(
            ("expected_outcome",),
            "differs",
            "expected_outcome",
            "'' (no end reached): expected_outcome error",
        )
    if code is not None:
        out["expected_code"] = _text(code)
        src.note(
            ("expected_code",), "converted", "expected_code", "expected_code (the outcome's code)"
        )
    reach = _steps(src, "must_reach", data.get("must_reach"))
    avoid = _steps(src, "must_not_reach", data.get("must_not_reach"))
    must, must_not, status_of = [], [], {}
    for i, sid in enumerate(reach):
        p = ("must_reach", i)
        if sid in rb.steps:
            must.append(sid)
        elif sid in rb.ends:
            _end_reached(src, p, rb, sid, out)
        elif sid in rb.branch_hosts:
            host = rb.branch_hosts[sid]
            status_of[host] = "passed"
            src.note(
                p,
                "converted",
                f"must_reach '{sid}'",
                f"a branch step is reached when step '{host}' passed: expected_step_status {host}: passed",
            )
        elif sid in rb.assert_hosts:
            must.append(rb.assert_hosts[sid])
            src.note(
                p,
                "converted",
                f"must_reach '{sid}'",
                f"its checks belong to step '{rb.assert_hosts[sid]}': must_reach that step",
            )
        elif sid in rb.dropped:
            src.note(
                p,
                "differs",
                f"must_reach '{sid}'",
                "the step has no counterpart in gert; not checked",
            )
        else:
            must.append(sid)
            src.note(
                p,
                "differs",
                f"must_reach '{sid}'",
                "no such step in the runbook; kept, so the test fails as it did",
            )
    for i, sid in enumerate(avoid):
        p = ("must_not_reach", i)
        if sid in rb.steps:
            must_not.append(sid)
        elif sid in rb.ends:
            _end_avoided(src, p, rb, sid, out)
        elif sid in rb.branch_hosts or sid in rb.assert_hosts or sid in rb.dropped:
            src.note(
                p,
                "differs",
                f"must_not_reach '{sid}'",
                "the step has no counterpart in gert; not checked",
            )
        else:
            must_not.append(sid)
            src.note(
                p,
                "differs",
                f"must_not_reach '{sid}'",
                "no such step in the runbook; kept (gert's test reports it)",
            )
    if must:
        out["must_reach"] = must
    if must_not:
        out["must_not_reach"] = must_not
    if status_of:
        out["expected_step_status"] = status_of
    expected = data.get("expected_outputs")
    if expected is not None and not isinstance(expected, dict):
        src.refuse(("expected_outputs",), "expected_outputs", "must be a mapping")
        expected = {}
    captures: dict[str, str] = {}
    for name, want in (expected or {}).items():
        p = ("expected_outputs", name)
        want = _text(want)
        name = str(name)
        if name not in rb.captured and (name in rb.inputs or name in rb.constants):
            value = inputs.get(name, rb.constants.get(name))
            got = None if value is None else _text(value)
            holds = got is not None and _output_matches(want, got)
            src.note(
                p,
                "converted" if holds else "differs",
                f"expected_outputs '{name}'",
                f"an input or constant, not a capture: {got!r} {'matches' if holds else 'does not match'} {want!r} (checked now, not by gert test)",
            )
            continue
        if not (len(want) > 1 and want.startswith("/") and want.endswith("/")) and _COMPARE.match(
            want
        ):
            want = "/^" + re.escape(want) + "$/"
            src.note(
                p,
                "converted",
                f"expected_outputs '{name}'",
                f"exact text that gert would read as a comparison: {want}",
            )
        captures[name] = want
    if captures:
        out["expected_captures"] = captures
        src.note(
            ("expected_outputs",),
            "converted",
            "expected_outputs",
            "expected_captures (exact text, or /regex/)",
        )
    return out


def _steps(src: Source, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        src.refuse((key,), key, "must be a list of step IDs")
        return []
    return [_text(v) for v in value]


def _unique_code(rb: Converted, sid: str) -> bool:
    code = rb.ends[sid][1]
    return sum(1 for c in rb.ends.values() if c[1] == code) == 1


def _end_reached(
    src: Source, p: tuple[Any, ...], rb: Converted, sid: str, out: dict[str, Any]
) -> None:
    category, code = rb.ends[sid]
    if not _unique_code(rb, sid):
        src.refuse(
            p,
            f"must_reach '{sid}'",
            f"an end step is an outcome in gert; its code '{code}' is not unique, so the test cannot name it",
        )
        return
    if out.get("expected_code") not in (None, code):
        src.note(
            p,
            "differs",
            f"must_reach '{sid}'",
            f"its code '{code}' contradicts expected_code; the test fails as it did",
        )
        return
    out.setdefault("expected_code", code)
    out.setdefault("expected_outcome", category)
    src.note(
        p,
        "converted",
        f"must_reach '{sid}'",
        f"an end step is an outcome in gert: expected_code {code}",
    )


def _end_avoided(
    src: Source, p: tuple[Any, ...], rb: Converted, sid: str, out: dict[str, Any]
) -> None:
    code = rb.ends[sid][1]
    want = out.get("expected_code")
    if want is not None and want != code:
        src.note(
            p,
            "converted",
            f"must_not_reach '{sid}'",
            f"implied by expected_code {want} (this end's code is {code})",
        )
        return
    src.refuse(
        p,
        f"must_not_reach '{sid}'",
        "an end step is an outcome in gert; a test can say which code a run ends with, not which it does not (add expected_code)",
    )


def _output_matches(want: str, got: str) -> bool:
    """gert's Go implementation's expected_outputs check: /regex/ or exact text."""
    if len(want) > 1 and want.startswith("/") and want.endswith("/"):
        try:
            return re.search(want[1:-1], got) is not None
        except re.error:
            return False
    return got == want
