"""Which SQL is a read: the check the built-in ``sql`` tool makes before it runs a query,
and ``gert validate`` makes on a query written in a runbook."""

from __future__ import annotations

import re

# Anything in a statement's tree that writes, locks or runs arbitrary code.
_WRITES = (
    "Insert",
    "Update",
    "Delete",
    "Merge",
    "Create",
    "Drop",
    "Alter",
    "Command",
    "Into",
    "Lock",
    "Copy",
    "Set",
    "Use",
    "TruncateTable",
    "Grant",
)
_EXPLAIN = re.compile(
    r"^\s*explain\b(?P<opts>\s*\([^)]*\)|(?:\s+(?:verbose|costs|buffers|format\s+\w+|analy[sz]e))*)",
    re.I,
)


def refusal(query: str, dialect: str) -> str | None:
    """Why *query* is not a read the sql tool may run, or None when it is one."""
    import logging

    import sqlglot
    from sqlglot import exp

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to Command" notes
    why = "refused: the sql tool runs reads only, in a read-only transaction"
    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "cannot parse"
        return f"{why} (the query does not parse: {first})"
    if len(statements) != 1:
        return f"{why}: one statement per query ({len(statements)} given)"
    statement = statements[0]
    if isinstance(statement, exp.Command):
        word = str(statement.this).upper()
        if word == "SHOW":
            return None
        if word == "EXPLAIN":
            m = _EXPLAIN.match(query)
            if m is None or re.search(r"analy[sz]e", m.group("opts"), re.I):
                return f"{why}: EXPLAIN ANALYZE runs the statement"
            return refusal(query[m.end() :], dialect)
        return f"{why}: {word} is not a read"
    if not isinstance(statement, exp.Select | exp.Union | exp.Intersect | exp.Except | exp.Values):
        return f"{why}: {type(statement).__name__.upper()} is not a read"
    for node in statement.walk():
        if type(node).__name__ in _WRITES:
            return f"{why}: it contains {type(node).__name__.upper()}"
    return None
