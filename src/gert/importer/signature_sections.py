"""The guide's failure signatures, severities and incident triggers as a signatures file.

A section written as a failure signature (``**Signature:**``, ``**Artifacts:**``,
``**Replay:**``, ``**Remediation:**``) becomes an entry whose ``runbook`` is the section's
own; a list of incident triggers (a section named "… triggers …") gives one entry per item;
a severity table (rows ``SEV-1``, ``SEV-2``, …) becomes the file's ``severities``, and the
signatures under the section that holds it take its first (most severe) level unless their
text names another.

The match is built for precision, from what the guide says:

- literals in backticks joined by "or" are alternatives; joined by other words they must
  appear in that order on one line (``gate `x` fails with detail like `y` ``);
- a literal that does not itself say the thing failed (``FAILED``, ``FAIL``, ``error``)
  must share its line with a word that does (fail, failed, error, missing, mismatch,
  panicked), so that a passing log that mentions the name does not match;
- that word must not follow a zero count or a negation (``0 failed``, ``no missing``,
  ``without errors``), nor must the pieces after the first of an ordered signature;
- a literal that is a file path names an artifact, not log text (unless it is all the
  text names);
- a signature about a JSON artifact (```x.json` contains …``, ```x.json` has …``) is
  matched by key on the parsed JSON: ``key = "value"``, ``key != value``, ``key > 0``,
  and "gate `name`" (an object whose ``id`` is that name).
"""

from __future__ import annotations

import re
from typing import Any

from gert.importer.build import RunbookBuilder, literal
from gert.importer.guide import Guide, Section

FAIL_WORDS = r"(?:FAILED|FAIL|[Ff]ailed|[Ff]ailures?|[Ff]ails|[Ff]ail|[Ee]rrors?|ERRORS?|[Mm]issing|[Mm]ismatch|panicked)"
# Words that, just before a failure word, say there was none: "0 failed", "no missing
# keys", "without errors".
NEGATIONS = ("0", "no", "not", "none", "never", "nothing", "without", "zero")
LEVELS = ("critical", "high", "medium", "low")
_PATH = re.compile(r"^[\w.@<>/-]*\.(json|jsonl|toml|ya?ml|md|rs|py|log|txt)$|/")
_CONDITION = re.compile(r'^([A-Za-z_][\w.\[\]]*)\s*(==|=|!=|>=|<=|>|<)\s*"?([^"]*?)"?$')


def _labelled(lines: list[str], label: str) -> list[str]:
    """The lines after a ``**Label:**`` line, up to the next blank line or label."""
    for n, line in enumerate(lines):
        if line.startswith(f"**{label}:**"):
            rest = [line[len(label) + 5 :].strip()] if line[len(label) + 5 :].strip() else []
            for follow in lines[n + 1 :]:
                if not follow.strip() or follow.startswith("**") or follow.startswith("```"):
                    break
                rest.append(follow.strip())
            return rest
    return []


def _escape(text: str) -> str:
    """*text* as a regex that matches it literally (only metacharacters escaped)."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", text)


def _other_word(words: tuple[str, ...]) -> str:
    """A regex for a word (letters, digits, ``_``) other than *words*, in any case.

    Signatures run on RE2, which has no lookbehind or lookahead, so the complement of the
    finite set is spelled out: a word leaves the set's prefix tree at some character, or
    stops inside it (a proper prefix of a member that is not one)."""
    alphabet = "0123456789_abcdefghijklmnopqrstuvwxyz"
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for char in word.lower():
            node = node.setdefault(char, {})
        node[""] = {}

    def klass(chars: list[str]) -> str:
        runs: list[list[str]] = []
        for char in chars:
            if runs and ord(char) == ord(runs[-1][-1]) + 1:
                runs[-1].append(char)
            else:
                runs.append([char])
        return "[" + "".join(r[0] if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs) + "]"

    def rest(node: dict[str, Any], root: bool) -> str:
        options = [] if "" in node or root else [""]  # "" : a proper prefix of a member
        options.append(klass([c for c in alphabet if c not in node]) + r"\w*")
        options += [char + rest(node[char], False) for char in sorted(c for c in node if c)]
        return "(?:" + "|".join(options) + ")"

    return "(?i:" + rest(tree, True) + ")"


# What may stand just before a failure word for it to say something failed: the start of
# the line, punctuation (``... FAILED``, ``: fail``, ``[ERROR]``), or a word that is not
# a zero count or a negation (``1 failed``, ``gate fails``; not ``0 failed``, ``no
# missing``).
UNNEGATED = rf"(?:^\s*|[^\w\s]\s*|\b{_other_word(NEGATIONS)}\s+)"


def _says_failure(text: str) -> bool:
    return re.search(rf"\b{FAIL_WORDS}\b", text) is not None


def text_match(described: str) -> dict[str, Any] | None:
    """A ``match`` for a signature described in prose, or None when it names nothing
    literal. See the module docstring for the rules."""
    pieces = re.split(r"(`[^`]+`)", described)
    literals = [p[1:-1] for p in pieces if p.startswith("`") and p.endswith("`") and len(p) > 2]
    paths = [t for t in literals if _PATH.search(t) and " " not in t]
    groups: list[list[str]] = []  # a sequence of alternatives
    joiner = ""
    for piece in pieces:
        if piece.startswith("`") and piece.endswith("`") and len(piece) > 2:
            text = piece[1:-1]
            if text in paths and len(paths) < len(literals):
                continue  # an artifact's path, not log text (unless nothing else is named)
            if groups and re.search(r"\bor\b", joiner) and not re.search(r"[.;]", joiner):
                groups[-1].append(text)
            else:
                groups.append([text])
            joiner = ""
        else:
            joiner += piece
    if not groups:
        return None
    if len(groups) > 1:
        # After the first piece, a piece is not preceded by a zero count or a negation
        # either ("`x` fails with detail like `issues still open`" is not "x: 0 issues
        # still open"), unless it starts inside a word.
        parts = ["(?:" + "|".join(_escape(t) for t in group) + ")" for group in groups]
        return {"regex": parts[0] + "".join(rf".*(?:\w|{UNNEGATED}){p}" for p in parts[1:])}
    alternatives = groups[0]
    if len(alternatives) == 1 and _says_failure(alternatives[0]):
        return {"substring": alternatives[0]}
    failing = [_escape(t) for t in alternatives if _says_failure(t)]
    named = [_escape(t) for t in alternatives if not _says_failure(t)]
    regex = failing[:]
    if named:
        names = named[0] if len(named) == 1 else "(?:" + "|".join(named) + ")"
        regex.append(rf"{names}.*{UNNEGATED}{FAIL_WORDS}\b|{UNNEGATED}{FAIL_WORDS}\b.*{names}")
    return {"regex": "|".join(regex) if len(regex) == 1 else "|".join(f"(?:{r})" for r in regex)}


def json_match(described: str) -> dict[str, Any] | None:
    """A JSON match for "```x.json` contains gate `y` with `status = "fail"` ``", or None
    when the text is not about a JSON artifact."""
    m = re.match(r"\s*`([^`]+\.json)`\s+", described)
    if m is None:
        return None
    rest = described[m.end() :].split(" when ")[0]
    alternatives: list[dict[str, Any]] = [{}]
    plain: list[str] = []
    for found in re.finditer(r"(\b\w+\s+)?`([^`]+)`", rest):
        noun, text = (found.group(1) or "").strip().lower(), found.group(2)
        if noun == "or" and alternatives[-1]:
            alternatives.append({})
        cond = _CONDITION.match(text)
        if cond:
            key, op, value = cond.groups()
            alternatives[-1][key] = _condition(op, value)
        elif noun in ("gate", "check", "test", "suite", "step", "job") and re.fullmatch(
            r"[\w.-]+", text
        ):
            alternatives[-1]["id"] = text
        elif re.fullmatch(r"[\w.-]+", text):
            plain.append(text)
    failed = re.search(
        r"\bfail(?:ed|ing)\b[\w\s/-]{0,30}\b(gate|check|test|suite|step|job)s?\b", rest
    )
    if failed:
        # "a failed blocking gate (`a`, `b`, or other …)": an object with that status,
        # and one of the named ids when the guide names them.
        alternatives[-1]["status"] = "fail"
        if plain and "id" not in alternatives[-1]:
            alternatives[-1]["id"] = {"in": plain}
    alternatives = [a for a in alternatives if a]
    if not alternatives:
        return None
    if len(alternatives) == 1:
        return {"json": {"where": alternatives[0]}}
    return {"json": {"any": alternatives}}


def _condition(op: str, value: str) -> Any:
    number: Any = value
    if re.fullmatch(r"-?\d+", value):
        number = int(value)
    elif re.fullmatch(r"-?\d+\.\d+", value):
        number = float(value)
    return {
        "=": number,
        "==": number,
        "!=": {"not": number},
        ">": {"gt": number},
        ">=": {"ge": number},
        "<": {"lt": number},
        "<=": {"le": number},
    }[op]


class SignatureFile:
    """The signatures file a guide's sections give."""

    def __init__(self, guide: Guide, where: str, result: Any):
        self.guide = guide
        self.where = where
        self.result = result
        self.entries: list[dict[str, Any]] = []
        self.severities: list[dict[str, str]] = []
        self.severity_scope: Section | None = None
        self.severity_table: Any = None
        self.ids: set[str] = set()
        self._find_severities()

    def _find_severities(self) -> None:
        for sec in self.guide.sections():
            for block in sec.blocks:
                if block.kind != "table":
                    continue
                rows = [
                    [c.strip().strip("`").strip() for c in re.split(r"(?<!\\)\|", ln.strip())[1:-1]]
                    for ln in block.text.splitlines()
                ]
                if len(rows) < 3 or not re.search(r"sev", rows[0][0], re.I):
                    continue
                body = [r for r in rows[2:] if r and re.fullmatch(r"SEV-?\d", r[0], re.I)]
                if not body:
                    continue
                header = [h.lower() for h in rows[0]]
                for n, row in enumerate(body):
                    entry = {"label": row[0], "level": LEVELS[min(n, len(LEVELS) - 1)]}
                    for key, cell in zip(header[1:], row[1:], strict=False):
                        word = (
                            "criteria"
                            if "criteria" in key
                            else "response"
                            if "response" in key or "target" in key
                            else re.sub(r"\W+", "_", key).strip("_")
                        )
                        entry[word] = cell
                    self.severities.append(entry)
                self.severity_scope = sec.parent if sec.parent and sec.parent.level else sec
                self.severity_table = block
                return

    def also(self, first: int, last: int, what: str) -> None:
        """Lines that also went into the signatures file."""
        for n in range(first, last + 1):
            before = self.result.lines.get(n)
            self.result.lines[n] = (
                f"{before}; also {what}" if before and not before.startswith("skipped") else what
            )

    def severity(self, sec: Section, text: str) -> str | None:
        named = re.search(r"\bSEV-?(\d)\b", text)
        if named:
            for entry in self.severities:
                if re.sub(r"\D", "", entry["label"]) == named.group(1):
                    return entry["level"]
        scope = self.severity_scope
        walker: Section | None = sec
        while scope is not None and walker is not None:
            if walker is scope:
                return self.severities[0]["level"]
            walker = walker.parent
        return None

    def add(self, unit: Any, builder: RunbookBuilder) -> None:
        """A signature section's entry; its runbook is the section's own."""
        sec = unit.sections[0]
        lines = self.guide.lines[sec.first - 1 : sec.last]
        described = " ".join(_labelled(lines, "Signature"))
        if not described:
            return
        match = json_match(described) or text_match(described)
        if match is None:
            self.result.problems.append(
                f"{self.where}:{sec.first}: warning: signature of {sec.title!r} names no literal "
                "text (in `backticks`) to match; left out of the signatures file"
            )
            return
        artifacts = [
            re.sub(r"\s*\(.*\)$", "", item[2:]).strip("` ")
            for item in _labelled(lines, "Artifacts")
            if item.startswith("- ")
        ]
        remediation: list[str] = []
        for item in _labelled(lines, "Remediation"):
            if re.match(r"\d+\.", item):
                remediation.append(re.sub(r"^\d+\.\s*", "", item))
            elif remediation:  # a numbered item continued on the next line
                remediation[-1] += " " + item
        replay = [
            " ".join(re.sub(r"\\$", "", ln).strip() for ln in command.split("\n"))
            for command in self._replay(sec)
        ]
        entry: dict[str, Any] = {"id": builder.name, "title": sec.title, "match": match}
        level = self.severity(sec, described)
        if level:
            entry["severity"] = level
        entry.update(
            {
                "runbook": f"{builder.name}.runbook.yaml",
                "replay": replay,
                "artifacts": artifacts,
                "remediation": remediation,
            }
        )
        self.entries.append(entry)
        self.ids.add(builder.name)

    def _replay(self, sec: Section) -> list[str]:
        from gert.importer.shell import read_block

        out = []
        for fence in sec.fences():
            if fence.info.split()[:1] not in (["bash"], ["sh"], ["shell"], []):
                continue
            for st in read_block(fence.code, fence.first).statements:
                if st.kind not in ("output", "error"):
                    out.append(st.text)
        return out

    def scan(self, sec: Section) -> None:
        """A section of incident triggers: each list item with something literal to match
        becomes an entry (no runbook: the guide's response section is the procedure)."""
        if not re.search(r"\btriggers?\b", sec.title, re.I):
            return
        for block in sec.blocks:
            for n, item in enumerate(block.items, start=1):
                text = re.sub(r"\s+", " ", re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", item.text))
                match = json_match(text) or text_match(text)
                if match is None:
                    self.result.problems.append(
                        f"{self.where}:{item.first}: warning: trigger names no literal text (in "
                        "`backticks`) to match; left out of the signatures file"
                    )
                    continue
                short = re.sub(r"\([^)]*\)", "", sec.title).strip()
                base = re.sub(r"[^a-z0-9]+", "-", short.lower()).strip("-")[:40] or "trigger"
                sig_id = f"{base}-{n}"
                entry: dict[str, Any] = {
                    "id": sig_id,
                    "title": f"{short} {n}: {text if len(text) <= 90 else text[:89] + '…'}",
                    "match": match,
                }
                level = self.severity(sec, text)
                if level:
                    entry["severity"] = level
                artifacts = [
                    t for t in re.findall(r"`([^`]+)`", text) if _PATH.search(t) and " " not in t
                ]
                if artifacts:
                    entry["artifacts"] = artifacts
                self.entries.append(entry)
                self.also(item.first, item.last, f"signature {sig_id} of the signatures file")

    def write(self, stem: str) -> None:
        if not self.entries:
            return
        if self.severity_table is not None:
            table = self.severity_table
            self.also(table.first, table.last, "severities of the signatures file")
        from gert.load import dump_yaml
        from gert.util import slug

        doc: dict[str, Any] = {"apiVersion": "signatures/v0"}
        if self.severities:
            doc["severities"] = self.severities
        doc["signatures"] = self.entries
        self.result.files[f"{slug(stem, 60, 'section')}.signatures.yaml"] = dump_yaml(doc)


__all__ = ["SignatureFile", "json_match", "literal", "text_match"]
