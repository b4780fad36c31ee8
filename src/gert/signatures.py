"""Failure-signature maps and matching failure logs against them.

A ``signatures.yaml`` (``apiVersion: signatures/v0``) lists known failures: how to recognise
one in a log (a substring, or a regular expression whose named groups become runbook
inputs), how bad it is, the runbook that handles it, the commands that replay it, the
artifacts to look at and the remediation. ``load`` reads one with positions for every
problem; ``match`` ranks the signatures a log shows, most specific first.
"""

from __future__ import annotations

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
    pattern: Any  # a compiled RE2 pattern
    literal: bool  # matched as a plain substring
    severity: str = "medium"
    runbook: str = ""
    replay: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    remediation: list[str] = field(default_factory=list)
    source: str = ""  # file:line where it is defined
    base_dir: str = "."  # the signatures file's folder: ``runbook`` is relative to it

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
        )
        for e in entries
    ]


def match(signatures: list[Signature], log: str | Iterable[str]) -> list[Match]:
    """The signatures *log* shows, most specific first (longest match, then most lines).

    *log* is the text or its lines (a file read line by line: logs can be large); every
    pattern runs in linear time (RE2), so no line can make matching slow.
    """
    found: dict[str, Match] = {}
    lines = log.splitlines() if isinstance(log, str) else log
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        for sig in signatures:
            m = sig.pattern.search(text)
            if m is None:
                continue
            hit = found.get(sig.id)
            if hit is None:
                groups = {k: v for k, v in m.groupdict().items() if v is not None}
                hit = found[sig.id] = Match(sig, [], groups, 0)
            hit.lines.append((number, text))
            hit.specificity = max(hit.specificity, m.end() - m.start())
    return sorted(
        found.values(),
        key=lambda h: (
            -h.specificity,
            -len(h.lines),
            SEVERITIES.index(h.signature.severity),
            h.signature.id,
        ),
    )


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
