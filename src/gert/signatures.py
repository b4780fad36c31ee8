"""Failure-signature maps and matching failure logs against them.

A ``signatures.yaml`` (``apiVersion: signatures/v0``) lists known failures: how to recognise
one in a log (a substring, a regular expression whose named groups become runbook inputs,
or keys of a JSON artifact and the values they must have), how bad it is, the runbook that
handles it, the commands that replay it, the artifacts to look at and the remediation. An
optional ``severities`` list says what each level means where the file comes from (its
label, criteria and response target). ``load`` reads one with positions for every
problem; ``match`` ranks the signatures a log shows, most specific first.
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gert.errors import InvalidError
from gert.validate.formats import SEVERITIES, SIGNATURES_API

if TYPE_CHECKING:
    from gert.project import Project

API_VERSION = SIGNATURES_API


class SignatureError(InvalidError):
    """A signatures file that cannot be used; the message names file, line and field."""


@dataclass
class Signature:
    """One known failure."""

    id: str
    title: str
    pattern: Any  # a compiled RE2 pattern (None for a JSON match)
    literal: bool  # matched as a plain substring
    severity: str = "medium"
    runbook: str = ""
    replay: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    remediation: list[str] = field(default_factory=list)
    source: str = ""  # file:line where it is defined
    base_dir: str = "."  # the signatures file's folder: ``runbook`` is relative to it
    # A JSON match: alternatives, each a list of (dotted key, operator, value).
    json: list[list[tuple[str, str, Any]]] | None = None
    scale: dict[str, str] = field(default_factory=dict)  # the file's label/criteria/response

    def json_hit(self, doc: Any) -> dict[str, str] | None:
        """The keys of the first object in *doc* (searched at any depth) that satisfies
        one of the alternatives, with their values; None when none does."""
        for obj in _objects(doc):
            for conditions in self.json or []:
                if all(_holds(_get(obj, key), op, want) for key, op, want in conditions):
                    return {
                        re.sub(r"\W", "_", key): _scalar(_get(obj, key)) for key, _, _ in conditions
                    }
        return None

    def runbook_path(self, project_root: Path) -> Path:
        """The runbook's path, refused when it leads outside the project."""
        path = (Path(self.base_dir) / self.runbook).resolve()
        if not path.is_relative_to(project_root.resolve()):
            raise SignatureError(f"{self.source}: runbook {self.runbook} is outside the project")
        return path

    def runbook_to_run(self, project_root: Path) -> Path:
        """The runbook to start for this signature (``gert triage --run``); SignatureError
        when it names none or one outside the project."""
        if not self.runbook:
            raise SignatureError(f"signature {self.id} names no runbook to run")
        return self.runbook_path(project_root)


@dataclass
class Match:
    """A signature found in a log: the lines that matched and the named groups captured."""

    signature: Signature
    lines: list[tuple[int, str]]  # (1-based line number, text)
    groups: dict[str, str]
    specificity: int  # characters of the longest match: a longer match says more

    def to_dict(self) -> dict[str, Any]:
        """The match as plain data (``gert triage --json``)."""
        s = self.signature
        return {
            "id": s.id,
            "title": s.title,
            "severity": s.severity,
            "severity_label": s.scale.get("label"),
            "response": s.scale.get("response"),
            "runbook": s.runbook or None,
            "replay": s.replay,
            "artifacts": s.artifacts,
            "remediation": s.remediation,
            "groups": self.groups,
            "lines": [{"line": n, "text": text} for n, text in self.lines],
            "source": s.source,
        }

    def trigger(self, log: str) -> dict[str, Any]:
        """What started a chain from this match (``Options.trigger``): the signature, where it
        is defined, the log (named as the caller shows it), its matching lines and groups."""
        return {
            "signature": self.signature.id,
            "defined_at": self.signature.source,
            "log": log,
            "log_lines": [n for n, _ in self.lines],
            "groups": dict(self.groups),
        }


def find_files(root: Path) -> list[Path]:
    """Every ``*.signatures.yaml`` under a project root (run evidence left out), sorted."""
    return sorted(p for p in root.rglob("*.signatures.yaml") if ".runbook" not in p.parts)


def load_all(paths: list[Path]) -> list[Signature]:
    """The signatures of several files; one SignatureError listing every file's problems."""
    known: list[Signature] = []
    problems = []
    for path in paths:
        try:
            known += load(path)
        except SignatureError as e:
            problems.append(str(e))
    if problems:
        raise SignatureError("\n".join(problems))
    return known


def load(path: str | Path) -> list[Signature]:
    """Read a signatures file; every problem is reported at once, with its position (the
    checks ``gert validate`` makes: gert.validate.formats)."""
    from gert.load import LoadError, load_file
    from gert.validate.formats import check_signatures

    try:
        doc = load_file(path)
    except LoadError as e:
        raise SignatureError(str(e)) from None
    entries, problems = check_signatures(doc)
    if problems:
        raise SignatureError("\n".join(p.format() for p in problems))
    base_dir = str(Path(doc.file).parent)
    return [
        Signature(
            e["id"],
            e["title"],
            e["pattern"],
            e["literal"],
            e["severity"],
            e["runbook"],
            e["replay"],
            e["artifacts"],
            e["remediation"],
            source=f"{doc.file}:{e['line']}",
            base_dir=base_dir,
            json=e["json"],
            scale=e["scale"],
        )
        for e in entries
    ]


_MISSING = object()
_JSON_LIMIT = 16 * 1024 * 1024  # a JSON document larger than this is read line by line only


def _objects(doc: Any) -> Iterable[dict[str, Any]]:
    """Every object in a JSON document, the document first, depth first."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def _get(obj: dict[str, Any], key: str) -> Any:
    value: Any = obj
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equal(value: Any, want: Any) -> bool:
    if value is _MISSING or isinstance(value, dict | list) or value is None:
        return False
    if isinstance(value, bool) or isinstance(want, bool):
        return _scalar(value) == _scalar(want).lower()
    if isinstance(value, int | float):
        try:
            return float(value) == float(want)
        except (TypeError, ValueError):
            return False
    return str(value) == str(want)


def _holds(value: Any, op: str, want: Any) -> bool:
    if value is _MISSING:
        return False
    if op == "eq":
        return _equal(value, want)
    if op == "not":
        return value is not None and not isinstance(value, dict | list) and not _equal(value, want)
    if op == "in":
        return any(_equal(value, w) for w in want)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return {"gt": value > want, "ge": value >= want, "lt": value < want, "le": value <= want}[op]


def match(signatures: list[Signature], log: str | Iterable[str]) -> list[Match]:
    """The signatures *log* shows, most specific first (longest match, then most lines).

    *log* is the text or its lines (a file read line by line: logs can be large); every
    pattern runs in linear time (RE2), so no line can make matching slow. A JSON match is
    tried on every line that is a JSON object (JSON Lines) and on the whole log when it is
    one JSON document (an artifact such as ``full_suite_verdict.json``).
    """
    found: dict[str, Match] = {}
    lines = log.splitlines() if isinstance(log, str) else log
    textual = [s for s in signatures if s.json is None]
    structured = [s for s in signatures if s.json is not None]
    document: list[str] | None = [] if structured else None
    size = 0
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        for sig in textual:
            m = sig.pattern.search(text)
            if m is None:
                continue
            hit = found.get(sig.id)
            if hit is None:
                groups = {k: v for k, v in m.groupdict().items() if v is not None}
                hit = found[sig.id] = Match(sig, [], groups, 0)
            hit.lines.append((number, text))
            hit.specificity = max(hit.specificity, m.end() - m.start())
        if not structured:
            continue
        stripped = text.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            _json_line(structured, stripped, number, text, found)
        if document is not None:
            size += len(text) + 1
            if size > _JSON_LIMIT or (not document and stripped and stripped[0] not in "{["):
                document = None  # too large, or not a JSON document: lines only
            elif document or stripped:
                document.append(text)
    if document:
        _json_document(structured, document, found)
    return sorted(
        found.values(),
        key=lambda h: (
            -h.specificity,
            -len(h.lines),
            SEVERITIES.index(h.signature.severity),
            h.signature.id,
        ),
    )


def _json_line(
    structured: list[Signature], stripped: str, number: int, text: str, found: dict[str, Match]
) -> None:
    try:
        doc = _json.loads(stripped)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        return
    for sig in structured:
        groups = sig.json_hit(doc)
        if groups is None:
            continue
        hit = found.get(sig.id)
        if hit is None:  # a JSON match captures nothing: its keys are in the line shown
            hit = found[sig.id] = Match(sig, [], {}, _weight(groups))
        hit.lines.append((number, text))


def _json_document(
    structured: list[Signature], document: list[str], found: dict[str, Match]
) -> None:
    """The whole log as one JSON document: a match names the first line holding one of
    the matched values."""
    try:
        doc = _json.loads("\n".join(document))
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        return
    for sig in structured:
        if sig.id in found:
            continue
        groups = sig.json_hit(doc)
        if groups is None:
            continue
        number = next(
            (
                n
                for n, line in enumerate(document, start=1)
                for v in groups.values()
                if f'"{v}"' in line or re.search(rf":\s*{re.escape(v)}\b", line)
            ),
            1,
        )
        found[sig.id] = Match(sig, [(number, document[number - 1])], {}, _weight(groups))


def _weight(groups: dict[str, str]) -> int:
    """How specific a JSON match is: the length of the keys and values it tested."""
    return sum(len(k) + len(v) for k, v in groups.items())


def history(store: Any, signature_id: str, runbook: str) -> list[tuple[str, str]]:
    """How earlier chains started from *signature_id* ended: (last runbook, state) each.

    Roots are found through the index by the signature's runbook and kept when their
    manifest says this signature started them; each chain is followed to its last run.
    """
    ends = []
    for row in store.query(runbook=runbook, limit=None):
        if row.parent_run_id:
            continue
        try:
            manifest = store.read_manifest(store.open(row.run_id))
        except FileNotFoundError:
            continue
        if manifest.triggered_by.get("signature") != signature_id:
            continue
        for _ in range(50):  # follow the hand-offs; bounded like chains are
            if not manifest.child_runs:
                break
            try:
                manifest = store.read_manifest(store.open(str(manifest.child_runs[-1]["run_id"])))
            except (FileNotFoundError, KeyError):
                break
        ends.append((manifest.runbook_name or "?", manifest.state or "?"))
    return ends


def histories(project: Project, found: list[Match]) -> dict[str, str]:
    """How earlier chains started from each matched signature ended, described, by signature
    ID (signatures without a runbook left out; nothing when nothing has run here yet)."""
    from gert.store import index_path, open_store

    if not index_path(project.root).exists():
        return {}

    store = open_store(project)
    try:
        out = {}
        for m in found:
            if m.signature.runbook:
                path = m.signature.runbook_path(project.root)
                rel = str(path.relative_to(project.root.resolve()))
                out[m.signature.id] = describe_history(history(store, m.signature.id, rel))
        return out
    finally:
        store.close()


def describe_history(ends: list[tuple[str, str]]) -> str:
    """'resolved by X in 7 of 8; escalated by Y in 1 of 8', most common first."""
    if not ends:
        return ""
    counts: dict[tuple[str, str], int] = {}
    for end in ends:
        counts[end] = counts.get(end, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return "; ".join(f"{state} by {name} in {n} of {len(ends)}" for (name, state), n in ranked)
