"""The built-in ``sql`` tool: action ``query`` against SQLite or PostgreSQL.

Args: ``url`` (``sqlite:///relative/or/absolute.db`` — relative to the project root —
or ``postgresql://…``), ``query``, optional ``params`` bound by name (``:name``). It
returns the query envelope ``{success, rowCount, columns, data, message?, metadata}``.
A runbook query must not change the data it reads: a SQL parser (sqlglot) admits only
reads (SELECT, WITH … SELECT, VALUES, TABLE, SHOW, EXPLAIN without ANALYZE), one statement
at a time; SQLite databases are opened read-only and PostgreSQL queries run inside an
explicit read-only transaction that is always rolled back. The real protection is still a
database role that can only read (see docs/security.md).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from gert.executors import StepError
from gert.executors.queries import envelope, failure
from gert.validate.sql import refusal

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


def sqlite_path(url: str, project_root: Path) -> Path:
    """The file a ``sqlite:///`` URL names (relative paths hang off the project root)."""
    rest = url[len("sqlite:///") :]
    p = Path(rest)
    return p if p.is_absolute() else project_root / p


def run_query(
    url: str,
    query: str,
    params: dict[str, Any] | None,
    project_root: Path,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run one query and return its envelope (errors become ``success: false``)."""
    params = params or {}
    if url.startswith("sqlite:///"):
        refused = refusal(query, "sqlite")
        if refused:
            return failure(refused, "sqlite")
        return _sqlite(sqlite_path(url, project_root), query, params, timeout)
    if url.startswith(("postgresql://", "postgres://")):
        refused = refusal(query, "postgres")
        if refused:
            return failure(refused, "postgresql")
        return _postgres(url, query, params, timeout)
    raise StepError(
        f"unsupported database URL {url.split(':', 1)[0]}:// (use sqlite:/// or postgresql://)"
    )


def _sqlite(
    path: Path, query: str, params: dict[str, Any], timeout: float | None
) -> dict[str, Any]:
    import sqlite3

    if not path.is_file():
        return failure(f"no SQLite database at {path}", "sqlite")
    start = time.perf_counter()
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout or 5.0
        )
    except sqlite3.Error as e:
        return failure(f"cannot open {path}: {e}", "sqlite")
    try:
        if timeout:
            deadline = start + timeout
            conn.set_progress_handler(lambda: 1 if time.perf_counter() > deadline else 0, 10000)
        cur = conn.execute(query, params)
        rows = cur.fetchall()
        columns = [d[0] for d in cur.description or []]
    except sqlite3.Error as e:
        msg = "query timed out" if "interrupted" in str(e) else str(e)
        return failure(msg, "sqlite")
    finally:
        conn.close()
    return envelope(columns, rows, time.perf_counter() - start, "sqlite")


def to_pyformat(query: str) -> str:
    """``:name`` placeholders to psycopg's ``%(name)s`` (``::casts`` untouched, ``%`` escaped)."""
    return _NAMED.sub(r"%(\1)s", query.replace("%", "%%"))


def _postgres(
    url: str, query: str, params: dict[str, Any], timeout: float | None
) -> dict[str, Any]:
    try:
        import psycopg
    except ImportError:
        raise StepError("PostgreSQL queries need psycopg: pip install 'gert[postgres]'") from None
    start = time.perf_counter()
    try:
        # Never autocommit: one explicit READ ONLY transaction, always rolled back, so a
        # statement cannot commit its way out of read-only mode.
        with psycopg.connect(url, connect_timeout=int(timeout or 10), autocommit=False) as conn:
            conn.read_only = True
            try:
                if timeout:
                    conn.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
                cur = conn.execute(to_pyformat(query), params)
                rows = cur.fetchall() if cur.description else []
                columns = [d.name for d in cur.description or []]
            finally:
                conn.rollback()
    except psycopg.Error as e:
        return failure(
            str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__, "postgresql"
        )
    return envelope(columns, rows, time.perf_counter() - start, "postgresql")
