"""One runbook built from part of a guide: from a flowchart, or from prose and commands.

``RunbookBuilder`` collects the runbook's steps, inputs and description, and accounts for
every guide line it uses (``Imported.lines``). A flowchart becomes a tree (``from_chart``)
whose every edge is then checked against the tree (``check_edges``); prose and code become
steps in the order the guide gives them (``from_section``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gert.importer import commands as cmds
from gert.importer.guide import Block, Fence, Item, Section
from gert.importer.shell import Statement, Var, looks_like_commands, looks_like_data, read_block
from gert.mermaid import Flowchart

# Fenced code read as shell commands.
SHELL_LANGUAGES = {"bash", "sh", "shell", "zsh", "ksh", "shell-session", "shellsession", "terminal"}
# Shown as written whatever they hold: data, output and query languages.
SHOWN_LANGUAGES = {"console"}  # console: only its prompt lines are commands
RESOLVED_WORDS = re.compile(r"\b(resolved|done|success|succeeds?|recovered|fixed|healthy)\b", re.I)
ESCALATED_WORDS = re.compile(r"\b(escalate[sd]?|page|escalation)\b", re.I)
# A terminal that names its state ("escalated: page the DBA"), as gert diagram writes them.
EXPLICIT_STATE = re.compile(r"^(resolved|escalated|no_action|needs_rca)(?::\s*(.*))?$", re.S)
HANDOFF = re.compile(r"^next runbook:\s*(.+)$")
END_WORDS = {"completed", "end", "done", "stop"}
FALLTHROUGH = {"otherwise", "else"}
# Sections and labels that describe the situation rather than say what to do.
CONTEXT_NAMES = {
    "meaning",
    "impact",
    "summary",
    "overview",
    "description",
    "background",
    "context",
    "symptoms",
    "symptom",
    "signature",
    "signatures",
    "artifacts",
    "cause",
    "causes",
    "possible causes",
    "root cause",
    "about",
    "purpose",
    "scope",
    "bead",
    "policy",
    "qa runbook",
    "prerequisites",
    "requirements",
}
_STOP = {
    "a",
    "an",
    "the",
    "via",
    "with",
    "using",
    "by",
    "to",
    "of",
    "for",
    "in",
    "on",
    "and",
    "or",
    "run",
    "use",
    "command",
    "following",
    "this",
    "that",
    "these",
    "it",
    "its",
    "from",
    "is",
    "are",
    "be",
    "you",
    "can",
    "also",
    "please",
    "then",
    "now",
    "first",
    "next",
    "we",
    "need",
    "should",
    "will",
    "if",
    "as",
    "at",
}


def literal(text: str) -> str:
    """Guide text as template text that renders to itself (``{{`` is not an action)."""
    return text.replace("{{", '{{"{{"}}')


def choice_text(label: str) -> str:
    """An edge label as a choice value: plain text, since it sits in a quoted condition
    (no double quotes, no template braces)."""
    return re.sub(r"\{\{-?\s*|\s*-?\}\}", "", label).replace('"', "'")


def step_id(text: str, used: set[str], limit: int = 40) -> str:
    """A unique step ID from *text* (lowercase words joined by ``_``)."""
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if len(base) > limit:  # cut at a word
        base = base[:limit].rsplit("_", 1)[0] if "_" in base[:limit] else base[:limit]
    base = base.strip("_") or "step"
    if not re.match(r"[a-z_]", base):
        base = f"s_{base}"
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def words_of(text: str) -> set[str]:
    """Significant words, plurals folded."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w.removesuffix("s") if len(w) > 3 else w for w in words if w not in _STOP}


def title_words(text: str, count: int = 4) -> str:
    """The first words of a sentence, for a step's ID: ``Check pod events via `kubectl
    describe` `` is ``check pod events``."""
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", text.strip())
    words = [w for w in re.findall(r"[A-Za-z0-9]+", text) if w.lower() not in _STOP]
    return " ".join(words[:count])


def intent(words: list[str]) -> str:
    """What a command does, as a few words for its step's ID: ``kubectl rollout status
    deploy/api`` is ``check rollout status``; ``journalctl -u nginx`` is ``read nginx
    journal``."""
    if not words:
        return "command"
    program = cmds.program_of(words)
    args = words[1:]
    if program in ("sudo", "doas", "env", "timeout", "nice", "nohup", "time", "watch", "xargs"):
        rest = [a for a in args if not a.startswith("-") and "=" not in a]
        if program == "timeout" and rest:
            rest = rest[1:]  # the duration
        return intent(args[args.index(rest[0]) :]) if rest else program
    tool = cmds.TOOLS.get(program)
    sub = cmds.subcommand(args, tool.value_options if tool else frozenset())
    plain = [re.sub(r"^\$\{?|\}$", "", w) for w in sub]

    def obj(n: int) -> str:
        if len(plain) <= n:
            return ""
        return re.split(r"[/.:=]", plain[n].lstrip("-"))[0]

    verb = plain[0].lower() if plain else ""
    if program in ("kubectl", "oc"):
        if verb == "rollout" and len(plain) > 1:
            return {"status": "check rollout status", "history": "show rollout history"}.get(
                plain[1], f"{plain[1]} rollout"
            )
        if verb == "adm" and len(plain) > 1:
            return f"{plain[1]} {obj(2)}".strip()
        if verb == "logs":
            return f"read {obj(1)} logs".replace("  ", " ")
        if verb == "top":
            return f"show {obj(1) or 'resource'} usage"
        if verb == "auth":
            return "check permissions"
        return f"{verb} {obj(1)}".strip()
    if program == "systemctl":
        unit = obj(1)
        return (
            f"check {unit} status"
            if verb in ("status", "is-active", "is-failed")
            else f"{verb} {unit}".strip()
        )
    if program == "journalctl":
        unit = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-u", "--unit")), "")
        return (
            f"read {re.split(r'[.@]', unit)[0]} journal".replace("  ", " ")
            if unit
            else "read journal"
        )
    if program in ("tail", "head", "cat", "less", "more", "zcat", "tac"):
        files = [a for a in args if not a.startswith("-") and not a.isdigit()]
        return f"read {_stem(files[-1])}" if files else f"read {program}"
    if program in ("grep", "egrep", "fgrep", "zgrep", "rg"):
        files = [a for a in args if not a.startswith("-")]
        return f"search {_stem(files[-1])}" if len(files) > 1 else "search output"
    fixed = {
        "df": "check disk space",
        "du": "check disk usage",
        "free": "check memory",
        "uptime": "check load",
        "top": "show top processes",
        "ps": "list processes",
        "ss": "list sockets",
        "netstat": "list sockets",
        "lsof": "list open files",
        "dmesg": "read kernel messages",
        "ip": f"show {obj(0) or 'network'}",
    }
    if program in fixed:
        return fixed[program]
    if program in ("dig", "nslookup", "host"):
        return f"resolve {_stem(plain[0]) if plain else 'name'}"
    if program in ("ping", "ping6", "traceroute", "tracepath", "mtr"):
        return f"{program} {_stem(plain[-1]) if plain else 'host'}"
    if program in ("curl", "wget"):
        url = next((a for a in args if "://" in a or a.startswith("http")), "")
        tail = [p for p in re.split(r"[/?#]", url.split("://", 1)[-1]) if p and "{" not in p]
        return f"fetch {tail[-1] if tail else 'url'}"
    if program == "etcdctl":
        return {
            "endpoint status": "check endpoint status",
            "endpoint health": "check endpoint health",
            "member list": "list members",
            "alarm list": "list alarms",
            "defrag": "defragment",
        }.get(" ".join(plain[:2]), " ".join(plain[:2]) or "etcdctl")
    if program == "ceph":
        return f"check ceph {' '.join(plain[:2]) or 'status'}".replace(" -s", " status")
    if program in ("psql", "mysql", "sqlite3"):
        return "run query"
    if program == "redis-cli":
        return f"redis {(plain[0] if plain else next((a.lstrip('-') for a in args if a.startswith('--')), 'cli'))}"
    if program == "git":
        return f"git {verb}".strip()
    head = [program.split(".")[0]] + [p for p in plain[:2] if re.fullmatch(r"[A-Za-z][\w-]*", p)]
    return " ".join(head)


def _stem(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"\.(log|txt|json|yaml|yml|conf|cfg)$", "", name) or "file"


def fence_mode(fence: Fence) -> str:
    """``commands`` when a fenced block is shell to run, else ``shown``."""
    info = fence.info.split()[0].lower() if fence.info.split() else ""
    info = info.strip("{}.")
    if info in SHELL_LANGUAGES:
        return "shown" if looks_like_data(fence.code) else "commands"
    if info == "console":
        from gert.importer.shell import is_transcript

        return (
            "commands" if is_transcript(fence.code) or looks_like_commands(fence.code) else "shown"
        )
    if info == "":
        return (
            "commands"
            if looks_like_commands(fence.code) and not looks_like_data(fence.code)
            else "shown"
        )
    return "shown"


def commands_in(block: Block) -> bool:
    return any(
        item_commands(i) or any(fence_mode(f) == "commands" for f in i.fences) for i in block.items
    )


def item_commands(item: Item) -> list[str]:
    """The code spans of a list item that are commands (a known program and an
    argument, or a path to a script)."""
    out = []
    for span in item.spans:
        text = re.sub(r"^\$\s+", "", span.strip())
        words = text.split()
        if len(words) < 2 or "\n" in text:
            continue
        first = words[0]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", first):
            continue
        if cmds.known(first) and not first.endswith(":"):
            out.append(text)
    return out


def has_commands(sections: list[Section]) -> bool:
    """True when any of *sections* holds a command (a shell block or a list item's)."""
    return any(
        (b.fence is not None and fence_mode(b.fence) == "commands") or commands_in(b)
        for sec in sections
        for b in sec.blocks
    )


# Decisions nested deeper than this are not imported: the runbook's YAML would nest past
# what gert reads back (docs/decisions.md, limits on input).
MAX_NESTING = 25


class ChartTooDeep(Exception):
    """A flowchart whose decisions nest too deep to import; ``line`` is in the guide."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Prose:
    """Guide text kept for a step or the description: its lines and text."""

    first: int
    last: int
    text: str
    kind: str = "paragraph"


@dataclass
class RunbookBuilder:
    """One runbook being built."""

    name: str
    title: str
    source: dict[str, str]
    result: Any  # Imported
    lines: tuple[int, int] = (0, 0)
    used: set[str] = field(default_factory=set)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    body: list[dict[str, Any]] = field(default_factory=list)
    has_outcome: bool = False
    targets: list[tuple[str, set[str]]] = field(default_factory=list)
    description: list[Prose] = field(default_factory=list)
    assigned: dict[str, dict[str, Any]] = field(default_factory=dict)  # shell variables set
    attached: dict[str, str] = field(default_factory=dict)  # node -> guide text for its step
    options: dict[str, list[str]] = field(default_factory=dict)  # decision step -> its values
    placed_lines: set[int] = field(default_factory=set)  # block lines a step holds

    @property
    def where(self) -> str:
        return self.source["path"]

    def src(self, first: int, last: int) -> dict[str, Any]:
        """A step's source: its lines (the guide's path and hash are in meta.source)."""
        return {"lines": [first, last]}

    def account(self, first: int, last: int, what: str) -> None:
        """Say where guide lines *first*..*last* went."""
        self.result.account(first, last, what)

    def map(self, first: int, last: int, sid: str, what: str) -> None:
        entry = f"{self.name}/{sid} ({what})"
        for n in range(first, last + 1):
            before = self.result.lines.get(n, "")
            if first == last and before.startswith(f"{self.name}/") and sid not in before:
                self.result.lines[n] = f"{before}; {entry}"  # two nodes on one line
            else:
                self.result.lines[n] = entry

    def describe(self, prose: Prose, why: str = "") -> None:
        """Guide text kept in the runbook's description."""
        self.description.append(prose)
        self.account(
            prose.first, prose.last, f"{self.name}: description" + (f" ({why})" if why else "")
        )

    # ------------------------------------------------------------------ inputs

    def input(self, name: str, description: str, default: str | None = None) -> str:
        spec = self.inputs.setdefault(name, {"description": description})
        if default is not None and "default" not in spec:
            spec["default"] = default
        return "{{." + name + "}}"  # no spaces: argv elements are rendered one by one

    def piece(self, p: str | Var) -> str:
        """A piece of a command as template text."""
        if isinstance(p, str):
            return literal(p)
        if p.placeholder:
            return self.input(p.name, f"<{p.placeholder}> in the guide")
        known = self.assigned.get(p.name)
        if known is not None:
            return self.input(p.name, known["description"], known.get("default"))
        return self.input(p.name, f"${p.name} in the guide")

    def placeholders(self, text: str) -> str:
        """``<name>`` placeholders as template variables, each declared as an input."""
        from gert.importer.shell import PLACEHOLDER, placeholder_name

        def one(m: re.Match[str]) -> str:
            label = m.group(1)
            if re.fullmatch(r"/?[a-z][a-z0-9]*", label) and label.lstrip("/") in _HTML_TAGS:
                return m.group(0)
            return self.input(placeholder_name(label), f"<{label}> in the guide")

        return PLACEHOLDER.sub(one, text)

    def text(self, label: str) -> str:
        """A node's text as instructions: ``<name>`` placeholders become inputs."""
        return self.placeholders(literal(label))

    # ------------------------------------------------------------------ prose and commands

    def from_section(self, sec: Section, context: bool) -> None:
        """A section's blocks as steps (or, for a *context* section, description), in
        order: prose gathers into a manual step; each command becomes its own step."""
        pending: list[Prose] = []
        heading = sec.title or self.title

        def flush() -> None:
            if not pending:
                return
            if context:
                for p in pending:
                    self.describe(p, "context")
            else:
                self.prose_step(heading, pending)
            pending.clear()

        blocks = sec.blocks
        n = 0
        while n < len(blocks):
            block = blocks[n]
            n += 1
            if block.kind == "rule":
                self.account(block.first, block.last, "skipped: a rule between parts of the guide")
                continue
            label = re.fullmatch(
                r"\s*(?:\*\*|__)([A-Za-z][\w /-]{0,40}?):?(?:\*\*|__):?\s*", block.text
            )
            if label and label.group(1).strip().lower() not in CONTEXT_NAMES:
                # "**Remediation:**" on its own line names what follows, like a heading.
                flush()
                heading = label.group(1).strip()
                self.account(
                    block.first, block.last, f"{self.name}: a label naming the steps after it"
                )
                continue
            if self.labelled_context(block):
                # "**Signature:**" and the list under it: what the failure looks like.
                self.describe(Prose(block.first, block.last, block.text), "context")
                if n < len(blocks) and blocks[n].kind == "list" and not commands_in(blocks[n]):
                    self.describe(Prose(blocks[n].first, blocks[n].last, blocks[n].text), "context")
                    n += 1
                continue
            if block.kind == "fence" and block.fence is not None:
                mode = fence_mode(block.fence)
                if mode == "commands":
                    intro = (
                        pending.pop()
                        if pending
                        and pending[-1].text.rstrip().endswith(":")
                        and pending[-1].kind == "paragraph"
                        else None
                    )
                    flush()
                    self.from_commands(block.fence, heading, intro)
                    continue
                pending.append(Prose(block.first, block.last, block.text, "fence"))
                continue
            if block.kind == "list" and commands_in(block):
                intro = (
                    pending.pop()
                    if pending
                    and pending[-1].text.rstrip().endswith(":")
                    and pending[-1].kind == "paragraph"
                    else None
                )
                if intro is not None:
                    pending.append(intro)
                for item in block.items:
                    if item_commands(item) or any(fence_mode(f) == "commands" for f in item.fences):
                        flush()
                        self.from_item(item, heading)
                    else:
                        pending.append(Prose(item.first, item.last, item.text, "item"))
                self.account_gaps(block)
                continue
            if block.kind == "paragraph" and not context and self.prose_assignments(block):
                continue
            pending.append(Prose(block.first, block.last, block.text, block.kind))
        flush()

    def labelled_context(self, block: Block) -> bool:
        if block.kind != "paragraph":
            return False
        m = re.match(r"^\s*(?:\*\*|__)?([A-Za-z][A-Za-z ]{1,30}?):(?:\*\*|__)?(\s|$)", block.text)
        if m is None:
            m = re.match(r"^\s*\*\*([A-Za-z][A-Za-z ]{1,30}?)\*\*:", block.text)
        return bool(m) and m.group(1).strip().lower() in CONTEXT_NAMES

    def account_gaps(self, block: Block) -> None:
        """Lines of a list between its items (blank or continuation) stay with the list."""
        covered = set()
        for item in block.items:
            covered.update(range(item.first, item.last + 1))
        for n in range(block.first, block.last + 1):
            if n not in covered and self.result.lines.get(n) is None:
                self.account(n, n, f"{self.name}: part of the list at line {block.first}")

    def prose_step(self, heading: str, pending: list[Prose]) -> None:
        first, last = pending[0].first, pending[-1].last
        short = title_words(re.sub(r"\([^)]*\)", "", heading), 4) or "read"
        if step_id(short, set()) in self.used:
            short = f"{short} {title_words(pending[0].text, 3)}"
        sid = step_id(short, self.used)
        text = "\n\n".join(p.text for p in pending)
        self.body.append(
            {
                "id": sid,
                "type": "manual",
                "title": heading,
                "instructions": literal(_dedent(text)),
                "source": self.src(first, last),
            }
        )
        for p in pending:
            self.map(p.first, p.last, sid, "instructions")

    def from_item(self, item: Item, heading: str) -> None:
        """A list item holding commands: each command becomes a step; the item's text is its
        title and description."""
        said = re.sub(
            r"\s+", " ", re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", item.text.split("\n```")[0])
        ).strip()
        intro = Prose(item.first, item.last, said, "item")
        made = False
        for span in item_commands(item):
            blk = read_block(span + "\n", item.first)
            for st in blk.statements:
                if st.kind in ("output", "error"):
                    continue
                st.first, st.last = item.first, item.last
                st.text = span
                self.command_step(st, heading, intro, blk.placeholders, own=True)
                made = True
        for fence in item.fences:
            if fence_mode(fence) == "commands":
                self.from_commands(fence, heading, intro if not made else None)
                made = True
        self.account(
            item.first, item.last, f"{self.name}: list item with commands (line {item.first})"
        )
        if made:
            # The item's own lines belong to its first step.
            pass

    def from_commands(self, fence: Fence, heading: str, intro: Prose | None) -> None:
        """A shell block's statements as steps: simple commands apart; from the first
        statement that is more than a command on its own (a heredoc, a loop, a ``cd``, a
        session), the rest of the block is one manual step shown as written."""
        blk = read_block(fence.code, fence.first)
        code_lines = fence.code.split("\n")
        self.account(
            fence.first - 1,
            fence.first - 1,
            f"{self.name}: fence of the block at line {fence.first}",
        )
        self.account(
            fence.last, fence.last, f"{self.name}: fence of the block at line {fence.first}"
        )
        statements = blk.statements
        before = len(self.body)
        for n, st in enumerate(statements):
            if st.kind == "output":
                if n > 0 and self.body and statements[n - 1].kind != "output":
                    self.add_output(st.first, st.last, st.text)
                    continue
                self.shown_step(
                    fence, st.first, st.last, heading, intro, "not a command: shown as written"
                )
                intro = None
                continue
            if st.kind == "assignment" and not st.needs_shell:
                self.assign(st)
                continue
            why = st.changes_context()
            if why:
                lines = code_lines[st.first - fence.first : len(code_lines)]
                while lines and not lines[-1].strip():
                    lines.pop()
                self.block_step(fence, st, "\n".join(lines), why, heading, intro)
                return
            if st.comment_lines:
                self.placed_lines.update(range(st.comment_lines[0], st.comment_lines[1] + 1))
            self.command_step(st, heading, intro, blk.placeholders)
            intro = None
            for line, text in st.output:
                self.add_output(line, line, text)
        self.leftovers(fence, heading, intro, made=len(self.body) - before)

    def assign(self, st: Any) -> None:
        """``NAME=value`` (in a shell block or a paragraph of its own): the input ``NAME``
        of the commands after it, with ``value`` as its default when it is literal."""
        name, value = st.assignment
        places = [p for p in value if isinstance(p, Var)]
        if places and len(value) == 1 and places[0].placeholder:
            self.assigned[name] = {"description": f"{name}: <{places[0].placeholder}> in the guide"}
        elif not places:
            self.assigned[name] = {
                "description": f"{name} in the guide",
                "default": "".join(p for p in value if isinstance(p, str)),
            }
        else:
            self.assigned[name] = {"description": f"{name} in the guide"}
        self.account(st.first, st.last, f"{self.name}: sets input {name} for the commands after it")
        self.placed_lines.update(range(st.first, st.last + 1))

    def prose_assignments(self, block: Block) -> bool:
        """A paragraph of nothing but ``NAME=value`` lines (each perhaps in backticks) sets
        inputs as the same lines in a shell block do; False (and nothing set) otherwise."""
        lines = [ln.strip().strip("`").strip() for ln in block.text.splitlines()]
        if not lines or not all(re.fullmatch(r"[A-Za-z_]\w*=\S*", ln) for ln in lines):
            return False
        statements = read_block("\n".join(lines) + "\n", block.first).statements
        if len(statements) != len(lines) or any(
            st.kind != "assignment" or st.needs_shell for st in statements
        ):
            return False
        for st in statements:
            self.assign(st)
        return True

    def leftovers(self, fence: Fence, heading: str, intro: Prose | None, made: int) -> None:
        """What a shell block left unplaced (only assignments or comments, a comment after
        the last command, an introduction no step took) is shown in a manual step."""
        lines = fence.code.split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        free = [
            fence.first + k
            for k, line in enumerate(lines)
            if line.strip() and fence.first + k not in self.placed_lines
        ]
        if not made:
            pending = [intro] if intro is not None else []
            text = "\n".join(lines)
            pending.append(Prose(fence.first - 1, fence.last, f"```\n{text}\n```", "fence"))
            self.prose_step(heading, pending)
            return
        if intro is None and not free:
            return
        pending = [intro] if intro is not None else []
        for n in free:
            pending.append(Prose(n, n, f"```\n{lines[n - fence.first]}\n```", "fence"))
        self.prose_step(heading, pending)

    def add_output(self, first: int, last: int, text: str) -> None:
        """Sample output shown after a command: kept with the step that prints it."""
        step = self.body[-1].get("step", self.body[-1])
        fenced = (
            "\n\nSample output from the guide:\n\n```\n"
            if "Sample output"
            not in str(step.get("description", "")) + str(step.get("instructions", ""))
            else ""
        )
        key = "instructions" if step["type"] == "manual" else "description"
        current = step.get(key, "")
        if fenced:
            current = (
                current.rstrip("`\n")
                if current.endswith("```") and "Sample output" in current
                else current
            )
            step[key] = (
                current + fenced + (literal(text) if key == "instructions" else text) + "\n```"
            )
        else:
            body = current[: current.rfind("\n```")]
            step[key] = body + "\n" + (literal(text) if key == "instructions" else text) + "\n```"
        self.map(first, last, step["id"], "sample output")
        self.placed_lines.update(range(first, last + 1))

    def command_step(
        self,
        st: Statement,
        heading: str,
        intro: Prose | None,
        placeholders: list[str],
        own: bool = False,
    ) -> None:
        """One statement as a step. Its ID comes from the comment above it (or, when *own*,
        the list item that holds it), else from what the command does; a paragraph that
        introduces the block is its description."""
        verdict = st.verdict()
        said = st.comment or (intro.text if intro is not None else "")
        title = re.sub(r"\s+", " ", said).strip()[:80] or st.text.split("\n")[0][:60]
        words = st.commands[0].words() if st.commands else st.text.split()
        named = title_words(st.comment or (intro.text if own and intro is not None else ""))
        sid = step_id(named or intent(words), self.used)
        step: dict[str, Any] = {"id": sid}
        runs = (
            st.kind == "command" and not st.needs_shell and verdict.reads and len(st.commands) == 1
        )
        if runs:
            command = st.commands[0]
            spec: dict[str, Any] = {
                "argv": ["".join(self.piece(p) for p in a) for a in command.argv]
            }
            env = {k: "".join(self.piece(p) for p in v) for k, v in command.env}
            if env:
                spec["env"] = env
            step.update({"type": "cli", "title": title, "with": spec})
            if intro is not None and intro.text != title:
                step["description"] = intro.text
            what = f"cli: {verdict.reason}"
        else:
            why = _why(st, verdict)
            shown = self.shown_text(st)
            lead = f"{_dedent(intro.text)}\n\n" if intro is not None else ""
            step.update(
                {
                    "type": "manual",
                    "title": title,
                    "instructions": f"{literal(lead)}Run this yourself when it is right to ({why}):\n\n```\n{shown}\n```",
                }
            )
            what = f"manual: {why}"
        step["source"] = self.src(st.first, st.last)
        self.body.append(step)
        if st.comment_lines:
            self.map(*st.comment_lines, sid, "its title")
        if intro is not None:
            self.map(intro.first, intro.last, sid, "its description")
        self.map(st.first, st.last, sid, what)
        self.placed_lines.update(range(st.first, st.last + 1))

    def shown_text(self, st: Statement) -> str:
        """A statement as template text for a manual step: ``{{`` escaped, placeholders and
        the shell variables it uses as inputs."""
        text = literal(st.text)
        names = {
            p.name
            for c in st.commands
            for a in c.argv + [v for _, v in c.env]
            for p in a
            if isinstance(p, Var) and not p.placeholder
        }
        for name in sorted(names, key=len, reverse=True):
            template = self.piece(Var(name))
            text = re.sub(
                r"\$\{" + re.escape(name) + r"\}|\$" + re.escape(name) + r"(?![A-Za-z0-9_])",
                lambda _m, t=template: t,
                text,
            )
        return self.placeholders(text)

    def block_step(
        self, fence: Fence, st: Statement, code: str, why: str, heading: str, intro: Prose | None
    ) -> None:
        """The rest of a block from *st* on, as one manual step shown as written."""
        said = st.comment or (intro.text if intro else "") or heading
        sid = step_id(title_words(said) or heading, self.used)
        lead = f"{_dedent(intro.text)}\n\n" if intro is not None else ""
        lang = fence.info.split()[0] if fence.info.split() else ""
        self.body.append(
            {
                "id": sid,
                "type": "manual",
                "title": re.sub(r"\s+", " ", said).strip()[:80],
                "instructions": literal(
                    f"{lead}Run this yourself, as one program, when it is right to ({why}; "
                    f"gert does not split it into commands):\n\n```{lang}\n{code}\n```"
                ),
                "source": self.src(st.first, fence.last - 1),
            }
        )
        if intro is not None:
            self.map(intro.first, intro.last, sid, "its description")
        self.map(st.first, fence.last - 1, sid, f"manual, the block as one program: {why}")
        self.placed_lines.update(range(st.first, fence.last))
        if st.comment_lines:
            self.map(*st.comment_lines, sid, "its title")

    def shown_step(
        self, fence: Fence, first: int, last: int, heading: str, intro: Prose | None, why: str
    ) -> None:
        lines = fence.code.split("\n")[first - fence.first : last - fence.first + 1]
        pending = [intro] if intro is not None else []
        pending.append(Prose(first, last, "```\n" + "\n".join(lines) + "\n```", "fence"))
        self.prose_step(heading, pending)
        self.placed_lines.update(range(first, last + 1))

    # ------------------------------------------------------------------ flowcharts

    def from_chart(self, chart: Flowchart) -> None:
        """The chart as a tree: a node reached from two branches is a step in each (so each
        way through keeps its own end); a real loop (back to a node on the way to it) is a
        "go back to step X" step."""
        where = self.where
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
        reached: set[str] = set()
        while True:
            queue = [r for r in roots if r not in reached]
            while queue:
                node = queue.pop()
                if node not in reached:
                    reached.add(node)
                    queue += [e.target for e in chart.outgoing(node)]
            missing = [n for n in chart.nodes if n not in reached]
            if not missing:
                break
            roots.append(missing[0])  # a loop nothing leads into: it starts somewhere too
        self.chart = chart
        self.placed: dict[str, list[str]] = {}  # flowchart node -> its steps (one per copy)
        self.loops: dict[tuple[str, str], list[str]] = {}  # edge -> its "go back" steps
        self.values: dict[tuple[str, int], str] = {}  # (step, edge index) -> its choice
        self.starts: set[str] = set()
        self.handoffs: set[str] = set()
        starts = []
        for root in roots:
            node = chart.nodes[root]
            outs = chart.outgoing(root)
            if node.shape == "stadium" and len(outs) == 1:
                self.starts.add(root)
                root = outs[0].target  # a start terminal (stadium) marks where to begin
            starts.append(root)
        if len(starts) == 1:
            self.body += self.walk(starts[0], frozenset(), ())
            return
        # Several places to begin: the engineer first says which one applies.
        labels = ", ".join(f"{r} ({chart.nodes[r].label})" for r in starts)
        self.result.problems.append(
            f"{where}:{chart.nodes[starts[0]].line}: warning: the flowchart starts in "
            f"{len(starts)} places ({labels}); imported as a first choice between them"
        )
        sid = step_id("where_to_start", self.used)
        options, branches = [], []
        join = self.join(starts, frozenset(), ())
        for n, root in enumerate(starts, start=1):
            value = choice_text(chart.nodes[root].label) or f"start {n}"
            if value in [o["value"] for o in options]:
                value = f"{value} ({n})"
            options.append({"value": value})
            steps = [] if root == join else self.walk(root, frozenset({join} if join else ()), ())
            if steps:
                branches.append({"condition": f'decision == "{value}"', "steps": steps})
        self.options[sid] = [o["value"] for o in options]
        step = {
            "id": sid,
            "type": "manual",
            "instructions": "Which of these is where you are?",
            "choices": {
                "variable": "decision",
                "prompt": "Where do you start?",
                "options": options,
            },
        }
        self.body.append({"step": step, "branches": branches} if branches else step)
        if join:
            self.body += self.walk(join, frozenset(), ())

    def walk(
        self,
        start: str,
        stops: frozenset[str],
        path: tuple[tuple[str, str], ...],
        depth: int = 0,
    ) -> list[dict[str, Any]]:
        """The steps from *start* until a stop (where branches meet again), an outcome or
        the end; *path* holds the (node, step) pairs on the way here, for loops."""
        if depth > MAX_NESTING:
            node = self.chart.nodes[start]
            raise ChartTooDeep(
                node.line,
                f"decisions nest more than {MAX_NESTING} deep at {node.id} ({node.label}); "
                "split the chart",
            )
        seq: list[dict[str, Any]] = []
        current: str | None = start
        on_path = dict(path)
        previous = path[-1][0] if path else ""
        while current is not None and current not in stops:
            node = self.chart.nodes[current]
            earlier = on_path.get(current)
            if (
                earlier is None
                and current in self.placed
                and sum(map(len, self.placed.values())) > 300
            ):
                earlier = self.placed[current][0]  # too many copies: point at the first one
            if earlier is not None:
                loop = current in on_path
                sid = step_id(f"{'repeat' if loop else 'go_to'}_{earlier}", self.used)
                text = (
                    f"Go back to step `{earlier}` ({literal(node.label)}) and repeat from there."
                    if loop
                    else f"Go on at step `{earlier}` ({literal(node.label)})."
                )
                seq.append(
                    {
                        "id": sid,
                        "type": "manual",
                        "instructions": text,
                        "source": self.src(node.line, node.line),
                    }
                )
                self.loops.setdefault((previous, current), []).append(sid)
                self.map(
                    node.line, node.line, sid, "loop back" if loop else "go on at an earlier step"
                )
                self.result.problems.append(
                    f"{self.where}:{node.line}: warning: the flowchart loops back to "
                    f"{node.id} ({node.label}); imported as a 'go back to step "
                    f"{earlier}' step, since runbooks do not loop"
                    if loop
                    else f"{self.where}:{node.line}: warning: the flowchart is too large to copy "
                    f"{node.id} ({node.label}) into every branch; a step points at step {earlier}"
                )
                return seq
            outs = self.chart.outgoing(current)
            if not outs and node.shape == "stadium" and node.label.lower() in END_WORDS:
                return seq  # an end terminal: the walk simply ends here
            handoff = self.handoff_after(current, outs)
            if handoff is not None:
                outs = []
            sid = step_id(node.label, self.used)
            self.placed.setdefault(current, []).append(sid)
            on_path[current] = sid
            path = (*path, (current, sid))
            if handoff is not None:
                self.map(
                    self.chart.nodes[self.chart.outgoing(current)[0].target].line,
                    self.chart.nodes[self.chart.outgoing(current)[0].target].line,
                    sid,
                    "hand-off",
                )
            step: dict[str, Any] = {
                "id": sid,
                "type": "manual",
                "instructions": self.text(node.label) + self.attached.get(current, ""),
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
                self.map(node.line, node.line, sid, f"outcome {state}")
                seq.append(step)
                return seq
            if len(outs) == 1:
                self.map(node.line, node.line, sid, "step")
                seq.append(step)
                previous, current = current, outs[0].target
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
            if fallthrough is not None and (
                fallthrough in on_path or not self.way_on(outs, fallthrough, stops, path)
            ):
                fallthrough = None  # the other branches do not come back to it: a branch too
            join = fallthrough or (
                None if routes else self.join([e.target for e in outs], stops, path)
            )
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
                self.values[(sid, self.chart.edges.index(edge))] = value
                options.append({"value": value})
                if edge.target in routes:
                    steps = [self.route(edge.target, routes[edge.target])]
                else:
                    steps = (
                        []
                        if edge.target == join
                        else self.walk(
                            edge.target, stops | {join} if join else stops, path, depth + 1
                        )
                    )
                if steps:
                    branches.append({"condition": f'{variable} == "{value}"', "steps": steps})
            self.options[sid] = [o["value"] for o in options]
            if variable == "decision":
                step["choices"] = {
                    "variable": "decision",
                    "prompt": literal(node.label),
                    "options": options,
                }
                self.map(node.line, node.line, sid, f"decision ({len(outs)} ways)")
            else:
                self.map(node.line, node.line, sid, f"condition on input {variable}")
            seq.append({"step": step, "branches": branches} if branches else step)
            previous, current = current, join
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
        self.handoffs.add(target.id)
        return m.group(1).strip()

    def routes(self, outs: list[Any]) -> dict[str, str]:
        """A router: when most edge labels name other sections' runbooks, target -> runbook."""
        found: dict[str, str] = {}
        for edge in outs:
            words = words_of(edge.label)
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
        sid = step_id(node.label, self.used)
        self.placed.setdefault(node_id, []).append(sid)
        self.has_outcome = True
        self.map(node.line, node.line, sid, f"hand-off to {runbook}")
        return {
            "id": sid,
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

    def way_on(
        self,
        outs: list[Any],
        target: str,
        stops: frozenset[str],
        path: tuple[tuple[str, str], ...],
    ) -> bool:
        """True when every other branch of a decision either comes back to *target* or
        ends (an outcome, a loop): then *target* is the way on after the branches."""
        behind = {n for n, _ in path}
        seen: set[str] = set()

        def ok(node: str) -> bool:
            if node == target or node in behind or node in seen:
                return True
            if node in stops:
                return False
            seen.add(node)
            return all(ok(e.target) for e in self.chart.outgoing(node))

        return all(ok(e.target) for e in outs if e.target != target)

    def join(
        self, starts: list[str], stops: frozenset[str], path: tuple[tuple[str, str], ...]
    ) -> str | None:
        """Where branches from *starts* meet again: the first node that every way from every
        start passes through (None when some way ends first, at an outcome or a loop)."""
        behind = {n for n, _ in path}
        memo: dict[str, frozenset[str]] = {}

        def must(node: str, busy: frozenset[str]) -> frozenset[str]:
            if node in stops:
                return frozenset({node})
            if node in behind or node in busy:
                return frozenset()  # a loop: this way leaves
            if node in memo:
                return memo[node]
            outs = [e.target for e in self.chart.outgoing(node)]
            common: frozenset[str] | None = None
            for t in outs:
                found = must(t, busy | {node})
                common = found if common is None else common & found
            memo[node] = frozenset({node}) | (common or frozenset())
            return memo[node]

        shared = frozenset.intersection(*(must(s, frozenset()) for s in starts))
        if not shared:
            return None
        order = self.reach(starts[0], stops | behind)
        return min(shared, key=lambda n: order.index(n) if n in order else len(order))

    def reach(self, start: str, stops: frozenset[str]) -> list[str]:
        order, queue = [], [start]
        while queue:
            node = queue.pop(0)
            if node in order or node in stops:
                continue
            order.append(node)
            queue += [e.target for e in self.chart.outgoing(node)]
        return order

    def check_edges(self) -> None:
        """Every edge of the flowchart is a way through the runbook: after the step of its
        source (with its choice, for a decision) comes the step of its target, or the
        source's outcome when the target is a hand-off or a terminal. An edge that is not
        is an error at its line."""
        seen = _transitions(self.body, self.options)
        for index, edge in enumerate(self.chart.edges):
            if edge.source in self.starts or edge.target in self.handoffs:
                continue  # the start terminal; a hand-off is the source's outcome
            sources = self.placed.get(edge.source, [])
            if not sources:
                self.edge_lost(edge, "its source is not a step of the runbook")
                continue
            target_node = self.chart.nodes[edge.target]
            targets = set(self.placed.get(edge.target, [])).union(
                *(steps for (_, t), steps in self.loops.items() if t == edge.target)
            )
            for source in sources:
                choice = self.values.get((source, index), "")
                went = {b for a, c, b in seen if a == source and c == choice}
                if not went and not any(a == source for a, _, _ in seen):
                    continue  # this copy of the step is never reached (checked elsewhere)
                if target_node.shape == "stadium" and target_node.label.lower() in END_WORDS:
                    if went:
                        continue
                elif went & targets:
                    continue
                said = (
                    f"answering {choice!r} at step {source}" if choice else f"after step {source}"
                )
                self.edge_lost(
                    edge,
                    f"{said} the runbook goes to {', '.join(sorted(went)) or 'nothing'}, "
                    f"not to {' or '.join(sorted(targets)) or 'a step of ' + edge.target}",
                )
                break

    def edge_lost(self, edge: Any, why: str) -> None:
        arrow = f"-->|{edge.label}|" if edge.label else "-->"
        self.result.problems.append(
            f"{self.where}:{edge.line}: error: flowchart edge {edge.source} {arrow} "
            f"{edge.target} is not imported: {why}"
        )

    def dump(self) -> str:
        from gert.load import dump_yaml

        nodes = [n if "step" in n else {"step": n} for n in self.body]
        described = f"Imported from {self.where}: {self.title}".rstrip(": ")
        if self.description:
            described += "\n\n" + "\n\n".join(_dedent(p.text) for p in self.description)
        meta: dict[str, Any] = {
            "name": self.name,
            "kind": "mitigation" if self.has_outcome else "composable",
            "description": described,
            "source": {**self.source, "lines": list(self.lines)},
        }
        if self.inputs:
            meta["inputs"] = self.inputs
        return dump_yaml({"apiVersion": "runbook/v0", "meta": meta, "tree": nodes})


_HTML_TAGS = {
    "details",
    "summary",
    "br",
    "p",
    "div",
    "span",
    "b",
    "i",
    "em",
    "strong",
    "code",
    "pre",
    "a",
    "img",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "td",
    "th",
    "sup",
    "sub",
    "kbd",
    "hr",
}


def _why(st: Statement, verdict: cmds.Verdict) -> str:
    if st.kind == "error":
        return "it does not read as shell"
    if verdict.kind == "read":
        return f"read-only ({verdict.reason}), but {st.needs_shell or 'it needs a shell'}; gert runs commands without a shell"
    if verdict.kind == "follows":
        return f"read-only, but {verdict.reason}"
    if verdict.kind == "interactive":
        return verdict.reason
    if verdict.kind == "unknown":
        return verdict.reason
    return f"changes state: {verdict.reason}"


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip("\n")


def _transitions(
    body: list[dict[str, Any]], options: dict[str, list[str]]
) -> set[tuple[str, str, str]]:
    """Every (step, choice, next) a walk through a tree of steps can take, ``next`` being a
    step ID or ``end:<state>``; found in one pass, without listing every way through."""
    seen: set[tuple[str, str, str]] = set()

    def first(seq: list[dict[str, Any]], cont: str) -> str:
        if not seq:
            return cont
        node = seq[0]
        return str(node["step"]["id"] if "step" in node else node["id"])

    def walk(seq: list[dict[str, Any]], cont: str) -> None:
        for n, node in enumerate(seq):
            step = node.get("step", node)
            branches = node.get("branches", []) if "step" in node else step.get("branches", [])
            after = first(seq[n + 1 :], cont)
            if step.get("outcomes"):
                seen.add((step["id"], "", f"end:{step['outcomes'][0]['state']}"))
                continue
            values = options.get(step["id"]) or [
                o["value"] for o in step.get("choices", {}).get("options", [])
            ]
            if not values and branches:
                values = [re.sub(r'^\w+ == "(.*)"$', r"\1", b["condition"]) for b in branches]
                values.append("(other)")
            for value in values or [""]:
                branch = next(
                    (b for b in branches if b["condition"].endswith(f'== "{value}"')), None
                )
                seen.add((step["id"], value, first(branch["steps"], after) if branch else after))
            for branch in branches:
                walk(branch["steps"], after)

    walk(body, "end:completed")
    return seen
