"""Prose troubleshooting guides imported into runbooks (``gert import``).

Deterministic: no network, no model; the same guide gives byte-identical files. The guide
is read with markdown-it-py and split into sections at its headings. A section with a
Mermaid flowchart becomes a runbook whose tree follows the chart (a decision is a manual
choice whose options are the edge labels, paths that meet again continue after the
decision, a loop back becomes a "repeat from" step, and a node with no way out is an
outcome); a section with shell code becomes a runbook of ``cli`` steps, except commands
that change state, which become ``manual`` steps showing the command. Every runbook and
step records its source: the guide's path, SHA-256 and line range.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.errors import InvalidError
from gert.mermaid import Flowchart, MermaidError
from gert.mermaid import parse as parse_mermaid
from gert.util import slug as _slug
from gert.util import write_atomic

# Fenced code read as shell commands ("" is a fence with no language).
SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console", "zsh", "shell-session"}
# Commands that change state are shown to the engineer, never run by an import.
STATE_CHANGING = re.compile(
    r"\b(delete|remove|rm|restart|stop|kill|pkill|apply|archive|drop|truncate|reboot|"
    r"shutdown|scale|rollback|rollout|deploy|migrate|mv|chmod|chown|reset|purge|destroy|"
    r"terminate|unset|set|switch|fix|regenerate)\b",
    re.I,
)
# Programs that change a system whatever their arguments: never run by an import.
_WRITING = (
    "dd mkfs fdisk sfdisk parted wipefs mkswap swapon swapoff mount umount losetup "
    "iptables ip6tables nft ufw firewall-cmd route crontab at tee cp ln install truncate "
    "shred rsync scp mv rm rmdir unlink chmod chown chgrp chattr setfacl touch mkdir "
    "useradd userdel usermod groupadd groupdel passwd chpasswd visudo sysctl modprobe rmmod "
    "insmod kill pkill killall reboot shutdown halt poweroff service update-rc.d "
    "apt apt-get dpkg yum dnf rpm pip npm terraform ansible ansible-playbook wget "
    "sudo doas su env nohup xargs timeout nice ionice stdbuf setsid busybox "
    "sh bash dash zsh ksh fish python python3 perl ruby node php"
)
WRITING_PROGRAMS = frozenset(_WRITING.split())
# Tools with subcommands: only these read-only subcommands run; any other is shown.
READ_SUBCOMMANDS = {
    "kubectl": {
        "get",
        "describe",
        "logs",
        "top",
        "explain",
        "version",
        "api-resources",
        "api-versions",
        "cluster-info",
        "auth",
        "events",
        "diff",
    },
    "oc": {"get", "describe", "logs", "status", "version", "whoami"},
    "helm": {"list", "ls", "status", "get", "history", "show", "version", "search", "template"},
    "docker": {
        "ps",
        "logs",
        "inspect",
        "images",
        "stats",
        "version",
        "info",
        "top",
        "port",
        "events",
        "history",
    },
    "podman": {"ps", "logs", "inspect", "images", "stats", "version", "info", "top", "port"},
    "systemctl": {
        "status",
        "show",
        "is-active",
        "is-enabled",
        "is-failed",
        "list-units",
        "list-unit-files",
        "list-timers",
        "cat",
    },
    "git": {
        "status",
        "log",
        "diff",
        "show",
        "blame",
        "describe",
        "rev-parse",
        "ls-files",
        "grep",
        "shortlog",
    },
    "redis-cli": {
        "ping",
        "info",
        "get",
        "mget",
        "exists",
        "ttl",
        "type",
        "scan",
        "llen",
        "hget",
        "hgetall",
        "smembers",
        "zrange",
        "dbsize",
        "slowlog",
        "latency",
    },
    "aws": set(),  # any aws call may write: shown
    "gcloud": set(),
    "az": set(),
}
# Options that make an otherwise reading command write.
WRITING_OPTIONS = {
    "sed": {"-i", "--in-place"},
    "curl": {
        "-X",
        "--request",
        "-d",
        "--data",
        "--data-raw",
        "--data-binary",
        "-F",
        "--form",
        "-T",
        "--upload-file",
        "-o",
        "--output",
        "-O",
        "--remote-name",
    },
    "sort": {"-o", "--output"},
    "find": {"-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprintf", "-fls"},
    "psql": {"-c", "--command", "-f", "--file"},
    "mysql": {"-e", "--execute"},
    "sqlite3": set(),
}


def changes_state(argv: list[str]) -> str | None:
    """Why a command from a guide may change state (so it is shown, not run), or None."""
    program = argv[0].rsplit("/", 1)[-1]
    base = program.split(".", 1)[0]  # mkfs.ext4 is mkfs
    if program in WRITING_PROGRAMS or base in WRITING_PROGRAMS:
        return f"{program} changes state"
    if program in READ_SUBCOMMANDS:
        verb = _subcommand(argv[1:])
        if verb not in READ_SUBCOMMANDS[program]:
            return f"{program} {verb or '(no subcommand)'} is not a read"
        if program == "redis-cli" or (program == "kubectl" and verb == "auth"):
            return None
    for option in WRITING_OPTIONS.get(program, ()):
        if any(a == option or a.startswith(option + "=") for a in argv[1:]):
            return f"{program} {option} writes"
    if program == "sed" and any(a.startswith("-i") for a in argv[1:]):
        return "sed -i writes"
    if program in ("sqlite3",) and len(argv) > 2:
        return f"{program} runs SQL that may write"
    return None


def _subcommand(args: list[str]) -> str:
    """The first word that is neither an option nor an option's value (``-n prod``)."""
    after_option = False
    for a in args:
        if a.startswith("-"):
            after_option = "=" not in a  # "--namespace prod" or "-n prod": the next is a value
            continue
        if after_option:
            after_option = False
            continue
        return a.lower()
    return ""


RESOLVED_WORDS = re.compile(r"\b(resolved|done|success|succeeds?|recovered|fixed|healthy)\b", re.I)
ESCALATED_WORDS = re.compile(r"\b(escalate[sd]?|page|escalation)\b", re.I)
# A terminal that names its state ("escalated: page the DBA"), as gert diagram writes them.
EXPLICIT_STATE = re.compile(r"^(resolved|escalated|no_action|needs_rca)(?::\s*(.*))?$", re.S)
HANDOFF = re.compile(r"^next runbook:\s*(.+)$")
END_WORDS = {"completed", "end", "done", "stop"}
FALLTHROUGH = {"otherwise", "else"}


@dataclass
class Section:
    """A part of the guide under one heading."""

    title: str
    level: int
    lines: tuple[int, int]  # first and last line (1-based)
    fences: list[tuple[str, str, int]] = field(default_factory=list)  # (info, text, first line)
    prose: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Imported:
    """What an import produced: files by relative name, the mapping, and problems."""

    files: dict[str, str] = field(default_factory=dict)
    mapping: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    source: str = ""  # the guide, as meta.source names it (set by import_into)
    folder: Path | None = None  # where the files were written (set by import_into)

    @property
    def runbooks(self) -> int:
        """How many runbooks the import produced."""
        return sum(name.endswith(".runbook.yaml") for name in self.files)

    @property
    def failed(self) -> bool:
        """True when a part of the guide could not be imported (an error, not a warning)."""
        return any(": error:" in p for p in self.problems)


def slug(text: str) -> str:
    """A runbook-name slug of a heading."""
    return _slug(text, 60, "section")


def _step_id(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "step"
    if not re.match(r"[a-z_]", base):
        base = f"s_{base}"
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def sections(text: str) -> list[Section]:
    """The guide's sections (a heading and what follows up to the next heading)."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    total = len(text.splitlines())
    out: list[Section] = []
    current: Section | None = None
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map:
            if current:
                current.lines = (current.lines[0], tok.map[0])
            title = tokens[i + 1].content.strip("` ")
            current = Section(title, int(tok.tag[1]), (tok.map[0] + 1, total))
            out.append(current)
        elif current is None and tok.map and tok.level == 0:
            current = Section("", 0, (1, total))
            out.append(current)
        if current is None:
            continue
        if tok.type == "fence" and tok.map:
            current.fences.append((tok.info.strip().lower(), tok.content, tok.map[0] + 2))
        elif (
            tok.type in ("paragraph_open", "bullet_list_open", "ordered_list_open")
            and tok.map
            and tok.level == 0
        ):
            current.prose.append((tok.map[0] + 1, tok.map[1]))
    return out


def import_guide(path: Path, display: str | None = None) -> Imported:
    """Import one guide; *display* is the path written into ``meta.source``."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InvalidError(
            f"{display or path.as_posix()}:{line}: not UTF-8 text ({e.reason} at byte {e.start}); "
            "save the guide as UTF-8"
        ) from None
    source = {"path": display or path.as_posix(), "sha256": hashlib.sha256(raw).hexdigest()}
    result = Imported()
    found = sections(text)
    if not any(s.level for s in found):
        result.problems.append(
            f"{source['path']}:1: warning: no headings: the whole guide is one section"
        )
    names = _runbook_names(found, path.stem)
    # What a router's edge labels can name: every other section that becomes a runbook.
    targets = [(names[i], _words(sec.title)) for i, sec in enumerate(found) if i in names]
    signatures: list[dict[str, Any]] = []
    for index, sec in enumerate(found):
        charts = [f for f in sec.fences if f[0] == "mermaid"]
        shell = [f for f in sec.fences if f[0] in SHELL_LANGUAGES]
        for info, _, line in sec.fences:
            if info not in SHELL_LANGUAGES and info != "mermaid":
                result.problems.append(
                    f"{source['path']}:{line - 1}: warning: code block in {info!r} left as prose"
                )
        if not charts and not shell:
            if sec.prose:
                result.mapping.append(
                    f"- lines {sec.lines[0]}-{sec.lines[1]} ({sec.title or 'preamble'}): prose, not imported"
                )
            continue
        name = names[index]
        builder = _RunbookBuilder(name, sec, source, result)
        builder.targets = [t for t in targets if t[0] != name]
        if charts:
            info, chart_text, first = charts[0]
            try:
                chart = parse_mermaid(chart_text, first_line=first)
            except MermaidError as e:
                result.problems.append(f"{source['path']}:{e.line}: error: flowchart: {e.message}")
                continue
            for line, warning in chart.warnings:
                result.problems.append(f"{source['path']}:{line}: warning: {warning}")
            builder.from_chart(chart)
        else:
            for _, code, first in shell:
                builder.from_commands(code, first)
        result.files[f"{name}.runbook.yaml"] = builder.dump()
        signature = _signature(text, sec, name, source["path"], result)
        if signature:
            signatures.append(signature)
    if signatures:
        from gert.load import dump_yaml

        result.files[f"{slug(path.stem)}.signatures.yaml"] = dump_yaml(
            {"apiVersion": "signatures/v0", "signatures": signatures}
        )
    return result


def import_into(
    guide: Path, project_root: Path, out_dir: Path | None = None, mapping: bool = False
) -> Imported:
    """Import a guide and write its files (``gert import``): into *out_dir*, else
    ``runbooks/imported/<guide>/`` of the project; with *mapping* also
    ``<guide>.mapping.md``, which says which lines became which step. The guide is named
    relative to the project when it lies inside it."""
    path = guide.resolve()
    root = project_root.resolve()
    display = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
    result = import_guide(path, display)
    target = out_dir or root / "runbooks" / "imported" / slug(path.stem)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(result.files.items()):
        write_atomic(target / name, text)
    if mapping:
        lines = sorted(result.mapping, key=lambda ln: int(re.search(r"\d+", ln).group()))  # type: ignore[union-attr]
        write_atomic(
            target / f"{slug(path.stem)}.mapping.md",
            f"# How {display} was imported\n\n" + "\n".join(lines) + "\n",
        )
    result.source, result.folder = display, target
    return result


def choice_text(label: str) -> str:
    """An edge label as a choice value: plain text, since it sits in a quoted condition
    (no double quotes, no template braces)."""
    return re.sub(r"\{\{-?\s*|\s*-?\}\}", "", label).replace('"', "'")


def literal(text: str) -> str:
    """Guide text as template text that renders to itself (``{{`` is not an action)."""
    return text.replace("{{", '{{"{{"}}')


def _runbook_names(found: list[Section], stem: str) -> dict[int, str]:
    """Unique runbook names of the sections that become runbooks, by section index."""
    names: dict[int, str] = {}
    for index, sec in enumerate(found):
        if any(f[0] in SHELL_LANGUAGES or f[0] == "mermaid" for f in sec.fences):
            name = slug(sec.title or stem)
            while name in names.values():
                name += "-2"
            names[index] = name
    return names


_STOPWORDS = {"a", "an", "the", "on", "of", "to", "is", "in", "for", "and", "or", "path", "mode"}


def _words(text: str) -> set[str]:
    """Significant words of a heading or label, plurals folded."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w.removesuffix("s") if len(w) > 3 else w for w in words if w not in _STOPWORDS}


def commands(code: str, first: int) -> list[tuple[int, int, str, str]]:
    """(first line, last line, command, the comment above it) of each command in a shell
    block: continuation lines joined, a leading ``$ `` dropped."""
    out: list[tuple[int, int, str, str]] = []
    comment, buffer, start = "", "", 0
    for n, line in enumerate(code.splitlines()):
        stripped = line.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            comment = stripped.lstrip("#").strip() if stripped else comment
            continue
        if not buffer:
            start = n
        buffer += stripped.removeprefix("$ ").rstrip("\\").strip() + " "
        if not stripped.endswith("\\"):
            out.append((first + start, first + n, buffer.strip(), comment))
            buffer, comment = "", ""
    return out


def _labelled_block(lines: list[str], label: str) -> list[str]:
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


def _signature(
    text: str, sec: Section, runbook: str, where: str, result: Imported
) -> dict[str, Any] | None:
    """A seed-004-style section (Signature / Artifacts / Replay / Remediation) as a
    signatures/v0 entry whose runbook is the section's own."""
    lines = text.splitlines()[sec.lines[0] - 1 : sec.lines[1]]
    described = " ".join(_labelled_block(lines, "Signature"))
    if not described:
        return None
    literals = re.findall(r"`([^`]+)`", described)
    if not literals:
        result.problems.append(
            f"{where}:{sec.lines[0]}: warning: signature of {sec.title!r} names no literal "
            "text (in `backticks`) to match; left out of the signatures file"
        )
        return None
    pattern = "|".join(re.escape(literal) for literal in literals)
    artifacts = [
        re.sub(r"\s*\(.*\)$", "", item[2:]).strip("` ")
        for item in _labelled_block(lines, "Artifacts")
        if item.startswith("- ")
    ]
    remediation: list[str] = []
    for item in _labelled_block(lines, "Remediation"):
        if re.match(r"\d+\.", item):
            remediation.append(re.sub(r"^\d+\.\s*", "", item))
        elif remediation:  # a numbered item continued on the next line
            remediation[-1] += " " + item
    replay = [
        command
        for info, block, first in sec.fences
        if info in SHELL_LANGUAGES
        for _, _, command, _ in commands(block, first)
    ]
    result.mapping.append(
        f"- lines {sec.lines[0]}-{sec.lines[1]} -> signature {slug(sec.title)} (runbook {runbook})"
    )
    return {
        "id": slug(sec.title),
        "title": sec.title,
        "match": {"substring": literals[0]} if len(literals) == 1 else {"regex": pattern},
        "runbook": f"{runbook}.runbook.yaml",
        "replay": replay,
        "artifacts": artifacts,
        "remediation": remediation,
    }


class _RunbookBuilder:
    def __init__(self, name: str, sec: Section, source: dict[str, str], result: Imported):
        self.name = name
        self.sec = sec
        self.source = source
        self.result = result
        self.used: set[str] = set()
        self.inputs: dict[str, dict[str, Any]] = {}
        self.body: list[dict[str, Any]] = []
        self.has_outcome = False
        self.targets: list[tuple[str, set[str]]] = []  # (runbook name, heading words)

    def src(self, first: int, last: int) -> dict[str, Any]:
        """A step's source: its lines (the guide's path and hash are in meta.source)."""
        return {"lines": [first, last]}

    def map(self, first: int, last: int, step_id: str, what: str) -> None:
        self.result.mapping.append(f"- lines {first}-{last} -> {self.name}/{step_id} ({what})")

    # shell code
    def from_commands(self, code: str, first: int) -> None:
        for line_a, line_b, command, note in commands(code, first):
            self.body.append(self.command_step(command, note, line_a, line_b))

    def command_step(self, command: str, note: str, first: int, last: int) -> dict[str, Any]:
        templated = self.placeholders(command)
        title = note or command[:60]
        step_id = _step_id(note or command.split()[0], self.used)
        try:
            argv = shlex.split(templated)
        except ValueError as e:
            argv = []
            self.result.problems.append(
                f"{self.source['path']}:{first}: warning: cannot split {command!r} ({e}); shown as a manual step"
            )
        env = {}
        while argv and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", argv[0]):
            key, _, value = argv.pop(0).partition("=")
            env[key] = value
        # Shell syntax (pipes, redirections, substitutions) has no argv form: shown, not run.
        shell_syntax = any(c in re.sub(r"\{\{\.\w+\}\}", "", templated) for c in "|;&><`$(")
        reason = changes_state(argv) if argv else None
        if not argv or reason or STATE_CHANGING.search(command) or shell_syntax:
            why = ("changes state" if argv else "not a plain command") + (
                f": {reason}" if reason else ""
            )
            self.map(first, last, step_id, f"manual: the command {why}")
            return {
                "id": step_id,
                "type": "manual",
                "title": title,
                "instructions": f"Run this yourself when it is right to ({why}):\n\n```\n{templated}\n```",
                "source": self.src(first, last),
            }
        self.map(first, last, step_id, "cli")
        spec: dict[str, Any] = {"argv": argv}
        if env:
            spec["env"] = env
        return {
            "id": step_id,
            "type": "cli",
            "title": title,
            "with": spec,
            "source": self.src(first, last),
        }

    def text(self, label: str) -> str:
        """A node's text as instructions: ``<name>`` placeholders become inputs."""
        return self.placeholders(literal(label))

    def placeholders(self, text: str) -> str:
        """``<name>`` placeholders as template variables, each declared as an input."""
        return re.sub(r"<([A-Za-z_][A-Za-z0-9_]*)>", lambda m: self.input(m.group(1)), text)

    def input(self, name: str) -> str:
        self.inputs.setdefault(name, {"description": f"<{name}> in the guide"})
        return "{{." + name + "}}"  # no spaces: the command is split into argv after this

    # flowcharts
    def from_chart(self, chart: Flowchart) -> None:
        where = self.source["path"]
        for node in chart.nodes.values():
            if not node.labelled:
                self.result.problems.append(
                    f"{where}:{node.line}: warning: node {node.id} is used in an edge but never "
                    "defined with a label; its id is its text"
                )
            if node.shape == "rhombus" and len(chart.outgoing(node.id)) == 1:
                self.result.problems.append(
                    f"{where}:{node.line}: warning: decision {node.id} ({node.label}) has one "
                    "exit; imported as a plain step"
                )
        incoming = {e.target for e in chart.edges}
        roots = [n for n in chart.nodes if n not in incoming] or list(chart.nodes)[:1]
        self.chart = chart
        self.placed: dict[str, str] = {}  # flowchart node -> step id
        for root in roots:
            node = chart.nodes[root]
            outs = chart.outgoing(root)
            if node.shape == "stadium" and len(outs) == 1:
                root = outs[0].target  # a start terminal (stadium) marks where to begin
            self.body += self.walk(root, frozenset())

    def walk(self, start: str, stops: frozenset[str]) -> list[dict[str, Any]]:
        seq: list[dict[str, Any]] = []
        current: str | None = start
        while current is not None and current not in stops:
            node = self.chart.nodes[current]
            if current in self.placed:  # a loop back to an earlier step
                step_id = _step_id(f"repeat_{self.placed[current]}", self.used)
                seq.append(
                    {
                        "id": step_id,
                        "type": "manual",
                        "instructions": f"Go back to step `{self.placed[current]}` ({literal(node.label)}) and repeat from there.",
                        "source": self.src(node.line, node.line),
                    }
                )
                self.map(node.line, node.line, step_id, "loop back")
                self.result.problems.append(
                    f"{self.source['path']}:{node.line}: warning: the flowchart loops back to "
                    f"{node.id} ({node.label}); imported as a 'go back to step "
                    f"{self.placed[current]}' step, since runbooks do not loop"
                )
                return seq
            outs = self.chart.outgoing(current)
            if not outs and node.shape == "stadium" and node.label.lower() in END_WORDS:
                return seq  # an end terminal: the walk simply ends here
            handoff = self.handoff_after(current, outs)
            if handoff is not None:
                outs = []
            step_id = _step_id(node.label, self.used)
            self.placed[current] = step_id
            step: dict[str, Any] = {
                "id": step_id,
                "type": "manual",
                "instructions": self.text(node.label),
                "source": self.src(node.line, node.line),
            }
            if not outs:
                explicit = EXPLICIT_STATE.match(node.label)
                state = (
                    explicit.group(1)
                    if explicit
                    else "resolved"
                    if RESOLVED_WORDS.search(node.label)
                    else "escalated"
                    if ESCALATED_WORDS.search(node.label)
                    else "needs_rca"
                )
                outcome = {
                    "state": state,
                    "recommendation": literal(
                        (explicit.group(2) if explicit else None) or node.label
                    ),
                }
                if handoff is not None:
                    outcome["next_runbook"] = {"file": handoff}
                    for name in re.findall(r"\{\{-?\s*\.([A-Za-z_]\w*)", handoff):
                        self.inputs.setdefault(name, {"description": "names the next runbook"})
                step["outcomes"] = [outcome]
                self.has_outcome = True
                self.map(node.line, node.line, step_id, f"outcome {state}")
                seq.append(step)
                return seq
            if len(outs) == 1:
                self.map(node.line, node.line, step_id, "step")
                seq.append(step)
                current = outs[0].target
                continue
            # A decision: the engineer chooses; paths that meet again continue after it.
            routes = self.routes(outs)
            # An "otherwise" edge is the way on when no choice applies: it is where the
            # branches continue, not a branch of its own.
            # So is the one unlabelled edge among labelled ones (an unconditional outcome).
            unlabelled = [e for e in outs if not e.label]
            fallthrough = next((e.target for e in outs if e.label.lower() in FALLTHROUGH), None)
            if fallthrough is None and len(unlabelled) == 1:
                fallthrough = unlabelled[0].target
            join = fallthrough or (None if routes else self.join([e.target for e in outs], stops))
            # When the decision is about a known input ("{env}" with edges "prod",
            # "staging"), branches test the input; otherwise the engineer chooses.
            variable = next(
                (
                    name
                    for name in sorted(self.inputs)
                    if re.search(
                        rf"\b{re.escape(name.replace('_', ' '))}\b|\b{name}\b", node.label.lower()
                    )
                ),
                None,
            )
            if variable is None or routes or not all(e.label for e in outs):
                variable = "decision"
            options, branches = [], []
            for n, edge in enumerate(outs, start=1):
                # A choice is compared inside a quoted condition: no double quotes in it.
                value = edge.label or ("otherwise" if edge.target == fallthrough else f"option {n}")
                value = choice_text(value)
                options.append({"value": value})
                if edge.target in routes:
                    steps = [self.route(edge.target, routes[edge.target])]
                else:
                    steps = (
                        []
                        if edge.target == join
                        else self.walk(edge.target, stops | {join} if join else stops)
                    )
                if steps:
                    branches.append({"condition": f'{variable} == "{value}"', "steps": steps})
            if variable == "decision":
                step["choices"] = {
                    "variable": "decision",
                    "prompt": literal(node.label),
                    "options": options,
                }
                self.map(node.line, node.line, step_id, f"decision ({len(outs)} ways)")
            else:
                self.map(node.line, node.line, step_id, f"condition on input {variable}")
            seq.append({"step": step, "branches": branches} if branches else step)
            current = join
        return seq

    def handoff_after(self, node_id: str, outs: list[Any]) -> str | None:
        """The runbook a "next runbook: FILE" terminal after this node names (as gert
        diagram draws a hand-off), else None."""
        if len(outs) != 1:
            return None
        target = self.chart.nodes[outs[0].target]
        m = HANDOFF.match(target.label)
        if m is None or self.chart.outgoing(target.id):
            return None
        self.placed[target.id] = "handoff"
        return m.group(1).strip()

    def routes(self, outs: list[Any]) -> dict[str, str]:
        """A router: when most edge labels name other sections' runbooks, target -> runbook."""
        found: dict[str, str] = {}
        for edge in outs:
            words = _words(edge.label)
            scored = sorted(
                ((len(words & heading), name) for name, heading in self.targets),
                key=lambda t: (-t[0], t[1]),
            )
            if (
                words
                and scored
                and scored[0][0] > 0
                and (len(scored) == 1 or scored[0][0] > scored[1][0])
            ):
                found[edge.target] = scored[0][1]
        return (
            found if len(found) * 2 > len(outs) and len(set(found.values())) == len(found) else {}
        )

    def route(self, node_id: str, runbook: str) -> dict[str, Any]:
        """The step a router branch takes: the node's text, handing off to the runbook."""
        node = self.chart.nodes[node_id]
        step_id = _step_id(node.label, self.used)
        self.placed[node_id] = step_id
        self.has_outcome = True
        self.map(node.line, node.line, step_id, f"hand-off to {runbook}")
        return {
            "id": step_id,
            "type": "manual",
            "instructions": literal(node.label),
            "source": self.src(node.line, node.line),
            "outcomes": [
                {
                    "state": "needs_rca",
                    "recommendation": f"Follow {runbook}",
                    "next_runbook": {"file": f"{runbook}.runbook.yaml"},
                }
            ],
        }

    def join(self, starts: list[str], stops: frozenset[str]) -> str | None:
        """The first node every path from *starts* reaches (where branches meet again)."""
        orders = [self.reach(s, stops) for s in starts]
        common = set(orders[0]).intersection(*orders[1:])
        return min(common, key=lambda n: orders[0].index(n)) if common else None

    def reach(self, start: str, stops: frozenset[str]) -> list[str]:
        order, queue = [], [start]
        while queue:
            node = queue.pop(0)
            if node in order or node in stops or node in self.placed:
                continue
            order.append(node)
            queue += [e.target for e in self.chart.outgoing(node)]
        return order

    def dump(self) -> str:
        from gert.load import dump_yaml

        nodes = [n if "step" in n else {"step": n} for n in self.body]
        meta: dict[str, Any] = {
            "name": self.name,
            "kind": "mitigation" if self.has_outcome else "composable",
            "description": f"Imported from {self.source['path']}: {self.sec.title}".rstrip(": "),
            "source": {**self.source, "lines": list(self.sec.lines)},
        }
        if self.inputs:
            meta["inputs"] = self.inputs
        return dump_yaml({"apiVersion": "runbook/v0", "meta": meta, "tree": nodes})
