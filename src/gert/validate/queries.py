"""What ``gert validate`` checks in the args of the built-in query tools besides ``sql``
(``promql``, ``loki``, ``kusto``, ``elasticsearch``): where values may enter a query.

- PromQL and LogQL: templates only inside quoted values (:mod:`gert.validate.querytext`).
- KQL: no template in the query text at all; values go in ``params`` and the query
  declares them (``declare query_parameters(name:string);``). Control commands
  (``.show``, ``.drop``…) are refused: the tool runs queries.
- The Elasticsearch query DSL: a template may be a value in ``body`` (it becomes one JSON
  string), never a key, and never inside a part whose strings Elasticsearch parses as a
  language of its own (``query_string``, ``regexp``, scripts…); ``index`` is literal.
- Every tool: the server (``url``, ``cluster``) comes from the runbook's own ``meta.vars``,
  never from an input or a capture, since the step's credentials go wherever it points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gert import template as _template
from gert.validate.querytext import LOGQL, PROMQL, misplaced

# Parts of the query DSL whose strings Elasticsearch parses (query syntax, patterns,
# scripts): a value there could change what is searched.
PARSED_PARTS = frozenset(
    {
        "query_string",
        "simple_query_string",
        "regexp",
        "wildcard",
        "script",
        "script_score",
        "script_fields",
        "runtime_mappings",
        "intervals",
    }
)
_DECLARE = re.compile(r"declare\s+query_parameters\s*\(([^)]*)\)", re.I)
_DURATION = r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))+"
_TIME = re.compile(
    rf"now(?:\s*[+-]\s*{_DURATION})?|\d+(?:\.\d+)?|\d{{4}}-\d\d-\d\d(?:[T ][\d:.]+)?(?:Z|[+-]\d\d:?\d\d)?"
)
_STEP = re.compile(rf"\d+(?:\.\d+)?|{_DURATION}")


@dataclass(frozen=True)
class Finding:
    """One problem in a query tool's args: where under ``args``, what, and how to fix it."""

    where: tuple[str | int, ...]
    message: str
    hint: str | None = None
    offset: int | None = None  # in the string at *where*
    severity: str = "error"
    key: bool = False  # about the key at *where*, not its value


def declared_parameters(kql: str) -> set[str]:
    """The names a KQL query declares with ``declare query_parameters(...)``."""
    names = set()
    for m in _DECLARE.finditer(kql):
        for part in m.group(1).split(","):
            name = part.split(":", 1)[0].strip()
            if name:
                names.add(name)
    return names


def dsl_problems(body: Any) -> list[Finding]:
    """Templates in an Elasticsearch query DSL body that could change the query."""
    out: list[Finding] = []

    def walk(value: Any, where: tuple[str | int, ...], parsed: str | None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if _template.reads_data(str(k)):
                    out.append(
                        Finding(
                            (*where, k),
                            "a field name in the query may not be a template",
                            "write the field; a value may only fill a value",
                            key=True,
                        )
                    )
                walk(v, (*where, k), parsed or (k if k in PARSED_PARTS else None))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*where, i), parsed)
        elif isinstance(value, str) and parsed and _template.reads_data(value):
            out.append(
                Finding(
                    where,
                    f"a template inside `{parsed}` could change the query: Elasticsearch "
                    "parses its strings",
                    "use a term, terms, match or range query for the value",
                    value.find("{{"),
                )
            )

    walk(body, ("body",), None)
    return out


def _literal_problems(args: dict[str, Any]) -> list[Finding]:
    """Times, steps and limits written out that the tool would refuse when it runs."""
    out = []
    for key in ("time", "start", "end"):
        v = args.get(key)
        if v is not None and "{{" not in str(v) and not _TIME.fullmatch(str(v).strip()):
            out.append(
                Finding(
                    (key,),
                    f"{key} {v!r} is not a time",
                    "now, now-15m, an ISO 8601 time or Unix seconds",
                )
            )
    v = args.get("step")
    if v is not None and "{{" not in str(v) and not _STEP.fullmatch(str(v).strip()):
        out.append(
            Finding(("step",), f"step {v!r} is not a duration", "30s, 1m, 1h30m, or seconds")
        )
    v = args.get("limit")
    if (
        v is not None
        and "{{" not in str(v)
        and (not re.fullmatch(r"\d+", str(v)) or not 1 <= int(str(v)) <= 100_000)
    ):
        out.append(Finding(("limit",), f"limit {v!r} is not a number of rows from 1 to 100,000"))
    return out


_KQL_TOKEN = re.compile(
    r"""//[^\n]*|@?"(?:[^"\\\n]|\\.)*"|@?'(?:[^'\\\n]|\\.)*'|```.*?```|;""", re.S
)


def control_command_at(query: str) -> int | None:
    """Where a KQL text holds a control command (a statement that starts with ``.``,
    after any comment, ``declare`` or ``let`` before it), or None: the kusto tool runs
    queries only."""

    def blank(m: re.Match[str]) -> str:  # offsets kept; comments and strings hide nothing
        token = m.group()
        if token == ";":
            return token
        return " " * len(token) if token.startswith("//") else "s" * len(token)

    offset = 0
    for statement in _KQL_TOKEN.sub(blank, query).split(";"):
        stripped = statement.lstrip()
        if stripped.startswith("."):
            return offset + len(statement) - len(stripped)
        offset += len(statement) + 1
    return None


def query_tool_problems(name: str, args: dict[str, Any], runbook: Any) -> list[Finding]:
    """Every problem in the args of a step of built-in query tool *name*."""
    out: list[Finding] = []
    own = set(runbook.meta.vars)
    secrets = {n for n, spec in runbook.meta.inputs.items() if getattr(spec, "secret", False)}
    for key in ("url", "cluster"):
        text = args.get(key)
        if not isinstance(text, str) or "{{" not in text:
            continue
        try:
            refs = _template.referenced_variables(text)
        except _template.TemplateError:
            continue  # reported as a template problem
        # A database URL's user and password (postgresql://user:{{ .pw }}@host) may come
        # from a secret input; where it connects may not.
        scheme = text.find("://")
        userinfo_end = text.find("@", scheme) if name == "sql" and scheme > 0 else -1
        for ref, offset in refs:
            if ref in secrets and scheme < offset < userinfo_end:
                continue
            if ref not in own:
                out.append(
                    Finding(
                        (key,),
                        f"the server a query goes to may not come from '{ref}', an input or "
                        "a capture: the step's credentials go wherever it points",
                        "name the server in meta.vars (or choose between steps with a branch)",
                        offset,
                    )
                )
    out += _literal_problems(args)
    query = args.get("query")
    if name in ("promql", "loki") and isinstance(query, str):
        lang = PROMQL if name == "promql" else LOGQL
        out += [Finding(("query",), m.message, m.hint, m.offset) for m in misplaced(query, lang)]
    elif name == "kusto" and isinstance(query, str):
        if "{{" in query:
            out.append(
                Finding(
                    ("query",),
                    "the query is a template: values may not be spliced into KQL text",
                    "declare them (declare query_parameters(server:string);) and give the "
                    "values in params: {server: ...}",
                    query.find("{{"),
                )
            )
        at = control_command_at(query)
        if at is not None:
            out.append(
                Finding(
                    ("query",),
                    "control commands are refused: the kusto tool runs queries only",
                    "write a query (T | where …); change the cluster outside the runbook",
                    at,
                )
            )
        params = args.get("params")
        if isinstance(params, dict) and "{{" not in query:
            declared = declared_parameters(query)
            for p in sorted(set(params) - declared):
                out.append(
                    Finding(
                        ("params", p),
                        f"'{p}' is not declared by the query",
                        f"add declare query_parameters({p}:string); before the query",
                        severity="warning",
                    )
                )
    elif name == "elasticsearch":
        index = args.get("index")
        if isinstance(index, str) and _template.reads_data(index):
            out.append(
                Finding(
                    ("index",),
                    "the index may not be a template: a value with a wildcard or a comma "
                    "would search other indices",
                    "write the index (a pattern such as logs-* is fine)",
                    index.find("{{"),
                )
            )
        body = args.get("body")
        if body is not None and not isinstance(body, dict):
            out.append(
                Finding(("body",), "body is the query DSL as a mapping (query, size, sort…)")
            )
        else:
            out += dsl_problems(body or {})
    return out
