"""Logs of gert's long-running processes (``gert serve``, ``gert worker``).

On a terminal a person reads plain lines (``warning: …``); anywhere else (systemd, a
container, a pipe to a log shipper) each record is one JSON object on one line of stderr:
``ts`` (ISO-8601, UTC), ``level``, ``logger``, ``message``, then the record's own fields.
Every text value goes through redaction (the project's rules once :func:`use_redactor`
names them, the built-in ones before), loses its control characters (written as ``\\n``,
``\\x1b``, …) and is cut at :data:`MAX_TEXT` characters, so a log line can neither carry a
secret nor forge a second line.

    from gert.logs import log_event, setup_logging
    setup_logging()                                   # JSON unless stderr is a terminal
    log_event("gert.serve", "chain started", run_id="…", runbook="disk-full")
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import sys
from collections.abc import Callable
from typing import Any

MAX_TEXT = 2000
FIELDS = "gert_fields"  # the record attribute log_event keeps its fields in
CORE = ("ts", "level", "logger", "message")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What every LogRecord has: anything else on a record came in through ``extra=``.
# (uvicorn adds color_message: its message with terminal colours.)
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
# uvicorn's access log passes these as the record's arguments.
_ACCESS_ARGS = ("client", "method", "path", "http_version", "status")

_redact: Callable[[str], str] | None = None


def use_redactor(redactor: Any) -> None:
    """Redact log values with *redactor* (a :class:`gert.governance.Redactor`, e.g. the
    project's) from now on."""
    global _redact
    _redact = redactor.text


def _redacted(text: str) -> str:
    global _redact
    if _redact is None:
        from gert.governance import Redactor

        _redact = Redactor().text
    return _redact(text)


def clean(value: Any) -> Any:
    """*value* as a log may carry it: numbers, booleans and None as they are; anything
    else as redacted text without control characters, at most MAX_TEXT characters."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    text = value if isinstance(value, str) else str(value)
    text = _redacted(text[: MAX_TEXT * 4])  # a bound before the regexes run, too
    text = _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return text


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The record's own fields: log_event's, ``extra=``'s, uvicorn's access-log ones."""
    out: dict[str, Any] = {}
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        out.update(zip(_ACCESS_ARGS, record.args, strict=True))
    for key, value in record.__dict__.items():
        if key not in _STANDARD and key != FIELDS:
            out[key] = value
    out.update(getattr(record, FIELDS, None) or {})
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        ts = dt.datetime.fromtimestamp(record.created, dt.UTC)
        line: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": clean(record.getMessage()),
        }
        for key, value in fields_of(record).items():
            name = f"{key}_" if key in CORE else str(key)
            line[clean(name)] = clean(value)
        if record.exc_info:
            line["exception"] = clean(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: the message (fields are for programs; the message
    says what a person needs), with ``warning:`` or ``error:`` in front when it is one."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = ""
        if record.levelno >= logging.ERROR:
            prefix = "error: "
        elif record.levelno >= logging.WARNING:
            prefix = "warning: "
        text = prefix + clean(record.getMessage())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (a test's captured stream,
    then the real one again), never to a stream that was replaced and closed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def wants_json(json_lines: bool | None = None) -> bool:
    """*json_lines*, or when None: True unless stderr is a terminal."""
    if json_lines is not None:
        return json_lines
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return True


def formatter(json_lines: bool) -> logging.Formatter:
    return JsonFormatter() if json_lines else TextFormatter()


def setup_logging(json_lines: bool | None = None, level: str = "INFO") -> None:
    """Send every log record of this process to stderr: JSON lines, or text on a
    terminal (*json_lines* None decides by ``isatty``). Replaces earlier handlers of the
    root logger, so calling it again changes the format."""
    handler = StderrHandler()
    handler.setFormatter(formatter(wants_json(json_lines)))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)


def uvicorn_log_config(json_lines: bool | None = None, level: str = "INFO") -> dict[str, Any]:
    """uvicorn's ``log_config``: its server and access logs in the same format as
    :func:`setup_logging`'s, on stderr."""
    kind = "json" if wants_json(json_lines) else "text"
    handler = {"class": "gert.logs.StderrHandler", "formatter": kind}
    return {
        "version": 1,
        "disable_existing_loggers": False,  # gert's own loggers keep working
        "formatters": {
            "json": {"()": "gert.logs.JsonFormatter"},
            "text": {"()": "gert.logs.TextFormatter"},
        },
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {
                "handlers": ["stderr"],
                "level": level.upper(),
                "propagate": False,
            },
        },
    }


def log_event(
    logger: logging.Logger | str, message: str, *, level: str | int = "info", **fields: Any
) -> None:
    """Log *message* with *fields* (each becomes a key of the JSON line; ``ts``, ``level``,
    ``logger`` and ``message`` get a ``_`` after them). Never put an input's value or a
    token in *fields*: redaction catches secrets it recognises, not every secret."""
    log = logging.getLogger(logger) if isinstance(logger, str) else logger
    levelno = level if isinstance(level, int) else logging.getLevelName(level.upper())
    if log.isEnabledFor(levelno):
        log.log(levelno, message, extra={FIELDS: fields})
