"""Shell code from a guide, read with a real shell grammar (tree-sitter-bash).

A code block is one program until proven otherwise: ``statements`` splits a block into its
top-level statements (a heredoc, a line continuation, a compound command, a pipeline or an
``&&``/``||`` list is one statement, whole), and tells for each what it is, the argv of
every command in it, and whether it needs a shell or changes the shell's context (``cd``,
``export``, an interactive session) so that what follows runs somewhere else.

Transcripts (``console`` blocks, or any block with ``$ `` prompts) are read as a person
typed them: a prompt line starts a command, the lines it needs to be complete (a
continuation, a heredoc, an open quote) belong to it, and every other line is its output.

``<placeholder>`` text and ``$VAR`` / ``${VAR}`` become variable pieces of an argument; the
importer turns them into runbook inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from gert.importer.commands import SHELL_CONTEXT, Verdict, classify, program_of

# A prompt: "$ ", "# " after a user@host or bracketed prompt, "sh-4.4# ", "bash-5.1$ ".
PROMPT = re.compile(
    r"^(?P<indent>\s*)(?P<prompt>\$|(?:[\w.-]+@[\w.-]+(?::\S*)?|\[[^\]\n]{1,60}\]|(?:ba)?sh-[\d.]+)\s?[$#])(?:\s|$)"
)
# A placeholder the reader replaces: <pod>, <namespace label from alert>.
PLACEHOLDER = re.compile(r"<(?!<)([A-Za-z_\"'][^<>\n]{0,80}?[^\s<>=|&;])>")
_SENTINEL = "__gert_ph_{}__"
_SENTINEL_RE = re.compile(r"__gert_ph_(\d+)__")
_SPECIAL_VARS = set("0123456789@*#?$!-_")
# Programs that open a session: what follows them in a block runs inside it.
_SESSIONS = {"ssh", "rsh", "telnet", "su", "chroot", "nsenter", "toolbox", "mysql", "psql"}
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "fish"}


@dataclass
class Var:
    """A variable piece of an argument: ``$NAME``/``${NAME}`` or a ``<placeholder>``."""

    name: str
    placeholder: str = ""  # the placeholder's text, when it was one


Piece = str | Var


@dataclass
class Command:
    """One simple command: its env prefix and argv, each a list of pieces."""

    env: list[tuple[str, list[Piece]]]
    argv: list[list[Piece]]

    def words(self) -> list[str]:
        """The argv as plain words (variables as their names), for classification."""
        return ["".join(p if isinstance(p, str) else f"${p.name}" for p in a) for a in self.argv]


@dataclass
class Statement:
    """A top-level statement of a block."""

    first: int  # guide lines, inclusive
    last: int
    text: str  # as written, prompts dropped, placeholders restored
    kind: str  # command | pipeline | list | assignment | compound | heredoc | output | error
    commands: list[Command] = field(default_factory=list)
    assignment: tuple[str, list[Piece]] | None = None
    needs_shell: str = ""  # why it cannot run as one argv (a pipe, a redirection, …)
    writes_file: bool = False  # it redirects output into a file
    comment: str = ""  # the comment line(s) just above it
    comment_lines: tuple[int, int] | None = None
    output: list[tuple[int, str]] = field(default_factory=list)  # sample output shown after it

    def verdicts(self) -> list[Verdict]:
        return [classify(c.words()) for c in self.commands]

    def verdict(self) -> Verdict:
        """The statement's verdict: a pipeline or list reads when every part reads."""
        if self.kind in ("compound", "heredoc", "error", "output"):
            return Verdict("write", self.needs_shell or self.kind)
        if self.writes_file:
            return Verdict("write", "it redirects output into a file")
        found = self.verdicts()
        for kind in ("write", "unknown", "interactive", "follows"):
            for v in found:
                if v.kind == kind:
                    return v
        if not found:
            return Verdict("unknown", "no command")
        return Verdict("read", "; ".join(dict.fromkeys(v.reason for v in found)))

    def changes_context(self) -> str:
        """Why what follows this statement in the block runs in another context, or ''."""
        if self.kind in ("compound", "heredoc", "error"):
            return self.needs_shell or self.kind
        if self.kind == "assignment" and self.needs_shell:
            return f"it sets a shell variable from a command ({self.needs_shell})"
        for c in self.commands:
            words = c.words()
            program = program_of(words)
            args = words[1:]
            verdict = classify(words)
            if program in SHELL_CONTEXT and program != "export":
                return f"{program} changes the shell the next commands run in"
            if program == "export" and self.kind != "assignment":
                return "export changes the shell the next commands run in"
            if verdict.kind == "interactive":
                return verdict.reason
            if program in _SHELLS and not args:
                return f"{program} opens a shell"
            if program in _SESSIONS and program not in ("mysql", "psql"):
                if program == "chroot" and len([a for a in args if not a.startswith("-")]) > 1:
                    continue
                return f"{program} opens a session; the next commands run inside it"
            if program in ("kubectl", "oc"):
                from gert.importer.commands import TOOLS, subcommand

                sub = subcommand(args, TOOLS[program].value_options)
                verb = sub[0] if sub else ""
                interactive = any(a in ("-i", "-t", "-it", "-ti", "--stdin", "--tty") for a in args)
                if verb in ("rsh", "attach") or (verb == "debug" and "--" not in args):
                    return f"{program} {verb} opens a session; the next commands run inside it"
                if verb == "exec" and interactive:
                    return f"{program} exec -it opens a session; the next commands run inside it"
            if program in ("sudo", "doas") and (not args or args[0] in ("-i", "-s", "su")):
                return f"{program} {' '.join(args[:1])} opens a root shell".strip()
        return ""


@dataclass
class Block:
    """A shell block read as statements, with what came before the first prompt."""

    statements: list[Statement]
    placeholders: list[str]  # placeholder texts by sentinel number
    transcript: bool  # written with prompts
    problems: list[tuple[int, str]] = field(default_factory=list)


@cache
def _parser() -> Any:
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bash.language()))


def _parse(text: str) -> Any:
    return _parser().parse(text.encode("utf-8")).root_node


def _complete(text: str) -> bool:
    """True when *text* is whole shell statements (no open quote, heredoc or compound)."""
    if text.rstrip("\n").endswith("\\"):
        return False
    return not _parse(text).has_error


def is_transcript(code: str) -> bool:
    """True when the block shows prompts (``$ kubectl get pods``)."""
    return any(PROMPT.match(line) for line in code.splitlines())


def _mask(text: str, placeholders: list[str]) -> str:
    """Placeholders replaced by words the shell grammar reads as plain words."""

    def one(m: re.Match[str]) -> str:
        placeholders.append(m.group(1))
        return _SENTINEL.format(len(placeholders) - 1)

    return PLACEHOLDER.sub(one, text)


def _unmask(text: str, placeholders: list[str]) -> str:
    return _SENTINEL_RE.sub(lambda m: f"<{placeholders[int(m.group(1))]}>", text)


def read_block(code: str, first_line: int) -> Block:
    """The statements of a shell block whose first code line is *first_line*."""
    placeholders: list[str] = []
    lines = code.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    transcript = any(PROMPT.match(line) for line in lines)
    block = Block([], placeholders, transcript)
    if not transcript:
        _read_script(lines, 0, first_line, block)
        _mark_output(block)
        return block
    n, comment = 0, ""
    comment_lines: tuple[int, int] | None = None
    while n < len(lines):
        m = PROMPT.match(lines[n])
        if m is None:
            stripped = lines[n].strip()
            if stripped and block.statements:
                block.statements[-1].output.append((first_line + n, lines[n]))
            elif stripped:
                # Text before the first prompt: a comment, or output shown without a command.
                block.statements.append(
                    Statement(first_line + n, first_line + n, lines[n], "output")
                )
            n += 1
            continue
        command = lines[n][m.end() :]
        start, text = n, command
        indent = len(m.group("indent"))
        n += 1
        if not text.strip() or text.strip().startswith("#"):
            if text.strip():
                comment = text.strip().lstrip("#").strip()
                comment_lines = (first_line + start, first_line + start)
            continue
        while (
            not _complete(_mask(text + "\n", [])) and n < len(lines) and not PROMPT.match(lines[n])
        ):
            follow = lines[n][indent:] if lines[n][:indent].isspace() else lines[n]
            text += "\n" + re.sub(r"^> ", "", follow)
            n += 1
        _read_script(text.split("\n"), start, first_line, block, comment, comment_lines)
        comment, comment_lines = "", None
    return block


def _read_script(
    lines: list[str],
    offset: int,
    first_line: int,
    block: Block,
    comment: str = "",
    comment_lines: tuple[int, int] | None = None,
) -> None:
    text = _mask("\n".join(lines) + "\n", block.placeholders)
    root = _parse(text)
    source = text.encode("utf-8")
    pending_comment = comment
    pending_lines = comment_lines
    for node in root.children:
        first = first_line + offset + node.start_point[0]
        last = (
            first_line
            + offset
            + node.end_point[0]
            - (1 if node.end_point[1] == 0 and node.end_point[0] > node.start_point[0] else 0)
        )
        raw = source[node.start_byte : node.end_byte].decode("utf-8")
        if node.type == "comment":
            pending_comment = raw.lstrip("#").strip()
            pending_lines = (
                pending_lines[0] if pending_lines and pending_lines[1] == first - 1 else first,
                first,
            )
            continue
        if node.type == "ERROR" and _is_stray(raw):
            block.statements.append(
                Statement(first, last, _unmask(raw, block.placeholders), "output")
            )
            continue
        statement = _statement(node, source, block.placeholders)
        statement.first, statement.last = first, last
        statement.text = _unmask(raw, block.placeholders)
        statement.comment = pending_comment
        statement.comment_lines = pending_lines if pending_comment else None
        pending_comment, pending_lines = "", None
        if node.has_error and statement.kind != "error":
            statement.kind, statement.needs_shell = "error", "it does not read as shell"
        block.statements.append(statement)


def _is_stray(raw: str) -> bool:
    """A line of punctuation (``)``, ``}``, ``...``) the grammar cannot place."""
    return not re.search(r"[A-Za-z0-9]", raw)


def _mark_output(block: Block) -> None:
    """In a block without prompts, a header row (``NAME  READY  STATUS``) and the lines
    after it up to a blank line are output, not commands."""
    in_output = False
    previous_last = -1
    for s in block.statements:
        words = s.text.split()
        header = (
            len(words) >= 2
            and all(re.fullmatch(r"[A-Z][A-Z0-9_()%./-]*:?", w) for w in words)
            and "\n" not in s.text
        )
        if header:
            in_output = True
        elif in_output and s.first > previous_last + 1:
            in_output = False  # a blank line ends the output
        if in_output:
            s.kind, s.needs_shell = "output", ""
            s.commands = []
        previous_last = s.last


def _statement(node: Any, source: bytes, placeholders: list[str]) -> Statement:
    t = node.type
    s = Statement(0, 0, "", "compound")
    if t == "command":
        command, why = _command(node, source, placeholders)
        if command is None:
            s.kind, s.needs_shell = "command", why
            # Classify what can be read anyway (the program and plain words).
            s.commands = [_loose_command(node, source, placeholders)]
        else:
            s.kind, s.commands = "command", [command]
        return s
    if t == "variable_assignment":
        name, value, why = _assignment(node, source, placeholders)
        s.kind, s.assignment, s.needs_shell = "assignment", (name, value), why
        return s
    if t == "declaration_command" and source[node.start_byte : node.end_byte].startswith(b"export"):
        assigns = [c for c in node.children if c.type == "variable_assignment"]
        if len(assigns) == 1 and len(node.children) == 2:
            name, value, why = _assignment(assigns[0], source, placeholders)
            s.kind, s.assignment, s.needs_shell = "assignment", (name, value), why
            return s
        s.kind, s.needs_shell = "compound", "export changes the shell"
        return s
    if t in ("pipeline", "list"):
        parts = _flatten(node)
        s.kind = t
        s.needs_shell = (
            "a pipeline needs a shell" if t == "pipeline" else "an && / || list needs a shell"
        )
        for part in parts:
            if part.type == "command":
                command, _ = _command(part, source, placeholders)
                s.commands.append(command or _loose_command(part, source, placeholders))
            elif part.type == "redirected_statement":
                inner = _statement(part, source, placeholders)
                if inner.kind == "heredoc":
                    s.kind, s.needs_shell = "heredoc", "a heredoc feeds a program its input"
                    s.commands = []
                    return s
                s.commands += inner.commands
                s.writes_file = s.writes_file or inner.writes_file
            else:
                s.kind, s.needs_shell = "compound", f"a {part.type.replace('_', ' ')} in a pipeline"
                s.commands = []
                return s
        return s
    if t == "redirected_statement":
        redirects = [c for c in node.children if c.type.endswith("redirect")]
        if any(r.type == "heredoc_redirect" for r in redirects) or any(
            r.type == "herestring_redirect" for r in redirects
        ):
            s.kind, s.needs_shell = "heredoc", "a heredoc feeds a program its input"
            return s
        body = node.child_by_field_name("body")
        inner = _statement(body, source, placeholders) if body is not None else s
        s.kind, s.commands = inner.kind, inner.commands
        if inner.kind in ("compound", "heredoc", "error", "assignment"):
            s.kind, s.needs_shell = "compound", inner.needs_shell or "a redirected compound command"
            s.commands = []
            return s
        s.needs_shell = "a redirection needs a shell"
        for r in redirects:
            text = source[r.start_byte : r.end_byte].decode("utf-8")
            if re.search(r"(^|\d)>>?(?!&)\s*(?!/dev/null\b)\S", text):
                s.writes_file = True
        return s
    names = {
        "for_statement": "a for loop",
        "c_style_for_statement": "a for loop",
        "while_statement": "a while loop",
        "if_statement": "an if statement",
        "case_statement": "a case statement",
        "function_definition": "a function definition",
        "subshell": "a subshell",
        "compound_statement": "a { } group",
        "negated_command": "a negated command",
        "test_command": "a test",
    }
    s.needs_shell = names.get(t, f"a {t.replace('_', ' ')}")
    return s


def _flatten(node: Any) -> list[Any]:
    """The commands of a pipeline or list, nested ones flattened."""
    out = []
    for c in node.named_children:
        if c.type in ("pipeline", "list"):
            out += _flatten(c)
        elif c.type != "comment":
            out.append(c)
    return out


def _command(node: Any, source: bytes, placeholders: list[str]) -> tuple[Command | None, str]:
    """A simple command as pieces, or None and why it needs a shell."""
    env: list[tuple[str, list[Piece]]] = []
    argv: list[list[Piece]] = []
    for child in node.children:
        if child.type == "variable_assignment":
            name, value, why = _assignment(child, source, placeholders)
            if why:
                return None, why
            env.append((name, value))
        elif child.type == "command_name":
            pieces, why = _word(
                child.named_children[0] if child.named_children else child, source, placeholders
            )
            if why:
                return None, why
            argv.append(pieces)
        elif child.type.endswith("redirect"):
            return None, "a redirection needs a shell"
        elif child.is_named:
            pieces, why = _word(child, source, placeholders)
            if why:
                return None, why
            argv.append(pieces)
    if not argv:
        return None, "no command"
    return Command(env, argv), ""


def _loose_command(node: Any, source: bytes, placeholders: list[str]) -> Command:
    """A command's words as written (for classification when it needs a shell anyway)."""
    argv: list[list[Piece]] = []
    for child in node.children:
        if (
            child.type in ("variable_assignment",)
            or not child.is_named
            or child.type.endswith("redirect")
        ):
            continue
        target = (
            child.named_children[0]
            if child.type == "command_name" and child.named_children
            else child
        )
        pieces, why = _word(target, source, placeholders)
        argv.append(pieces if not why else [_text(target, source)])
    return Command([], argv)


def _assignment(node: Any, source: bytes, placeholders: list[str]) -> tuple[str, list[Piece], str]:
    name_node = node.child_by_field_name("name")
    value_node = node.child_by_field_name("value")
    name = _text(name_node, source) if name_node is not None else ""
    if value_node is None:
        return name, [], ""
    pieces, why = _word(value_node, source, placeholders)
    return name, pieces, why


def _text(node: Any, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8")


def _word(node: Any, source: bytes, placeholders: list[str]) -> tuple[list[Piece], str]:
    """An argument's value as pieces (quotes removed, variables as Var), or why only a
    shell can give its value (a substitution, a pattern the shell expands, …)."""
    t = node.type
    raw = _text(node, source)
    if t in ("word", "number"):
        if re.search(r"(?<!\\)[*?]|(?<!\\)\[.*\]|^~", raw):
            return [], "a pattern the shell expands"
        if re.search(r"(?<!\\)\{[^{}\s]*,[^{}\s]*\}", raw):
            return [], "a brace expansion"
        return _split(re.sub(r"\\(.)", r"\1", raw), placeholders), ""
    if t == "raw_string":
        return _split(raw[1:-1], placeholders), ""
    if t == "string":
        pieces: list[Piece] = []
        for c in node.children:
            if c.type == '"':
                continue
            if c.type == "string_content":
                pieces += _split(re.sub(r'\\([$`"\\])', r"\1", _text(c, source)), placeholders)
            elif c.type in ("simple_expansion", "expansion"):
                var, why = _variable(c, source)
                if why:
                    return [], why
                pieces.append(var)  # type: ignore[arg-type]
            else:
                return [], f"a {c.type.replace('_', ' ')} needs a shell"
        return pieces, ""
    if t in ("simple_expansion", "expansion"):
        var, why = _variable(node, source)
        return ([var] if var else []), why  # type: ignore[list-item]
    if t == "concatenation":
        out: list[Piece] = []
        for c in node.children:
            pieces, why = _word(c, source, placeholders)
            if why:
                return [], why
            out += pieces
        return out, ""
    return [], f"a {t.replace('_', ' ')} needs a shell"


def _variable(node: Any, source: bytes) -> tuple[Var | None, str]:
    named = node.named_children
    if len(named) == 1 and named[0].type == "variable_name":
        name = _text(named[0], source)
        if node.type == "expansion" and _text(node, source) != "${" + name + "}":
            return None, "a parameter expansion needs a shell"
        return Var(name), ""
    if node.type == "simple_expansion" and named and named[0].type == "special_variable_name":
        return None, "a special shell variable"
    text = _text(node, source)
    if text.strip("${}") in _SPECIAL_VARS or text[1:2].isdigit():
        return None, "a special shell variable"
    return None, "a parameter expansion needs a shell"


def _split(text: str, placeholders: list[str]) -> list[Piece]:
    """Literal text with placeholder sentinels as Var pieces."""
    out: list[Piece] = []
    at = 0
    for m in _SENTINEL_RE.finditer(text):
        if m.start() > at:
            out.append(text[at : m.start()])
        label = placeholders[int(m.group(1))]
        out.append(Var(placeholder_name(label), label))
        at = m.end()
    if at < len(text):
        out.append(text[at:])
    return out


def placeholder_name(label: str) -> str:
    """An input name for a placeholder: ``<namespace label from alert>`` is
    ``namespace_label_from_alert``; ``<pod>`` is ``pod``."""
    words = re.findall(r"[A-Za-z0-9]+", label)
    name = "_".join(words)[:40].strip("_") or "value"
    if name[0].isdigit():
        name = f"v_{name}"
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else "value"


def looks_like_commands(code: str) -> bool:
    """True when a block without a shell info string reads as command lines: every line
    that is not blank, a comment or a continuation starts with a program the command
    table knows, a path to a program, or a prompt."""
    from gert.importer.commands import known

    seen = False
    continued = False
    for line in code.splitlines():
        stripped = line.strip()
        if continued:
            continued = stripped.endswith("\\")
            continue
        if not stripped or stripped.startswith("#"):
            continue
        m = PROMPT.match(line)
        if m:
            seen = True
            continued = stripped.endswith("\\")
            continue
        first = stripped.split()[0]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", first):
            rest = stripped.split()[1:]
            if not rest:
                seen = True
                continue
            first = rest[0]
        if not (known(first) or re.match(r"\.{0,2}/[\w./-]+$", first)):
            return False
        seen = True
        continued = stripped.endswith("\\")
    return seen


def looks_like_data(code: str) -> str:
    """What a shell-tagged block holds instead of commands (``YAML``, ``JSON``), or ''."""
    meaningful = [ln for ln in code.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not meaningful:
        return ""
    first = meaningful[0].strip()
    if first.startswith(("{", "[")) and not first.startswith(("[ ", "[[")):
        import json

        try:
            json.loads(code)
            return "JSON"
        except ValueError:
            pass
        if re.match(r'^[{\[]\s*("|$)', first):
            return "JSON"
    yamlish = sum(bool(re.match(r"^\s*(- )?[\w.\"'/-]+:(\s|$)", ln)) for ln in meaningful)
    if re.match(r"^(- )?[\w.\"'/-]+:(\s|$)", first) and yamlish * 2 > len(meaningful):
        return "YAML"
    return ""
