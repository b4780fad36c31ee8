"""Scripted Loki, Elasticsearch (and OpenSearch) and Kusto servers on 127.0.0.1 that speak
each service's real wire format, for the query tools' tests and bench/query_overhead.py.

They hold a few records in memory and understand just enough of each query language to
answer honestly: label matchers and line filters (LogQL), term/match/range/bool (the
query DSL), and ``declare query_parameters`` with ``where … ==`` and ``take`` (KQL). Each
also answers as the real service does when things go wrong:

- Loki: a LogQL parse error (400, plain text), ``{app="slow"}`` answers after 3 s,
  ``{app="echo"}`` is a 401 that repeats the request's token,
  ``{app="warn"}`` carries a warning, a metric query (``count_over_time``) a matrix.
- Elasticsearch: ``X-Elastic-Product`` on every answer; index ``missing`` is a 404
  ``index_not_found_exception``, an unknown query type a 400 ``parsing_exception``,
  index ``partial`` has a failed shard and ``timed_out``, index ``slow`` answers after 3 s.
  As OpenSearch: no product header, and the Elasticsearch media type is refused (406).
- Kusto (REST v2 frames, POST /v2/rest/query): an unknown table is a 400 semantic error,
  table ``Partial`` fails partway (inline, or in QueryCompletionInformation when the
  request defers partial failures), table ``Slow`` answers after 3 s; a request with a
  bearer token must carry the expected one.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

NOW = int(time.time())
TOKEN = "kusto-test-token-1234"


def go_unquote(body: str) -> str:
    """The value of a Go string literal's body (the escapes PromQL and LogQL read)."""
    out, i = [], 0
    simple = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "a": "\a"}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{e}")
    return "".join(out)


_STRING = r'"((?:[^"\\]|\\.)*)"'
_MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*" + _STRING + r"\s*(,|\})")
_FILTER = re.compile(r"\s*(\|=|!=|\|~|!~)\s*" + _STRING)


def parse_logql(query: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """A log query's stream matchers and line filters; ValueError for anything else."""
    q = query.strip()
    if not q.startswith("{"):
        raise ValueError("syntax error: unexpected IDENTIFIER, expecting { or (")
    i, matchers = 1, []
    while True:
        m = _MATCHER.match(q, i)
        if not m:
            raise ValueError(f"syntax error: unexpected character at col {i + 1}")
        matchers.append((m.group(1), m.group(2), go_unquote(m.group(3))))
        i = m.end()
        if m.group(4) == "}":
            break
    filters = []
    while i < len(q):
        m = _FILTER.match(q, i)
        if not m:
            if q[i:].strip():
                raise ValueError(f"syntax error: unexpected {q[i:].strip()[:10]!r}")
            break
        filters.append((m.group(1), go_unquote(m.group(2))))
        i = m.end()
    return matchers, filters


LOGS = [
    ({"app": "login", "level": "error"}, 60, "login failed for user sa: error 18456"),
    ({"app": "login", "level": "error"}, 50, 'login failed for user "ops": error 18456'),
    ({"app": "login", "level": "info"}, 40, "login ok for user web"),
    ({"app": "api", "level": "error"}, 30, "GET /health 500 in 3ms"),
    ({"app": "api", "level": "info"}, 20, "GET /health 200 in 1ms"),
    ({"app": "warn", "level": "info"}, 10, "a line from a stream with a warning"),
]


def _matches(op: str, have: str, want: str) -> bool:
    if op in ("=", "|="):
        return have == want if op == "=" else want in have
    if op == "!=":
        return have != want
    hit = re.fullmatch(want, have) if op in ("=~", "!~") else re.search(want, have)
    return bool(hit) == (op in ("=~", "|~"))


class _Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes: without this, a kept-alive client waits
        # for a delayed ACK (40 ms) on every answer after the first.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: Any) -> None:
        pass

    def send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in self.extra_headers().items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def extra_headers(self) -> dict[str, str]:
        return {}

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


class LokiHandler(_Base):
    def do_GET(self) -> None:
        url = urlparse(self.path)
        args = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path not in ("/loki/api/v1/query", "/loki/api/v1/query_range"):
            return self.send(404, b"404 page not found\n", "text/plain")
        query = args.get("query", "")
        self.server.seen.append(  # type: ignore[attr-defined]
            {
                "args": args,
                "auth": self.headers.get("Authorization"),
                "tenant": self.headers.get("X-Scope-OrgID"),
            }
        )
        if query.startswith("count_over_time("):
            inner = query[len("count_over_time(") : query.rindex("[")]
            matchers, filters = parse_logql(inner)
            n = len(self._lines(matchers, filters))
            series = [{"metric": {}, "values": [[NOW - 60, str(n)], [NOW, str(n)]]}]
            return self._ok("matrix", series)
        try:
            matchers, filters = parse_logql(query)
        except ValueError as e:
            return self.send(400, f"parse error at line 1, col 1: {e}\n".encode(), "text/plain")
        if ("app", "=", "echo") in matchers:  # a proxy that tells what it was sent
            token = (self.headers.get("Authorization") or "").split()[-1:]
            text = f"unauthorized: token {' '.join(token)} expired\n".encode()
            return self.send(401, text, "text/plain")
        if ("app", "=", "slow") in matchers:
            time.sleep(3)
        limit = int(args.get("limit", 100))
        lines = self._lines(matchers, filters)
        lines.sort(key=lambda e: e[1], reverse=args.get("direction", "backward") == "backward")
        lines = lines[:limit]
        streams: dict[str, dict[str, Any]] = {}
        for labels, ns, line in lines:
            s = streams.setdefault(json.dumps(labels), {"stream": labels, "values": []})
            s["values"].append([str(ns), line])
        warnings = ["the stream is noisy"] if ("app", "=", "warn") in matchers else None
        self._ok("streams", list(streams.values()), warnings)

    def _lines(self, matchers: list[Any], filters: list[Any]) -> list[tuple[dict, int, str]]:
        out = []
        for labels, ago, line in LOGS:
            if all(_matches(op, labels.get(k, ""), v) for k, op, v in matchers) and all(
                _matches(op, line, v) for op, v in filters
            ):
                out.append((labels, (NOW - ago) * 1_000_000_000 + 123456789, line))
        return out

    def _ok(self, kind: str, result: list[Any], warnings: list[str] | None = None) -> None:
        body: dict[str, Any] = {
            "status": "success",
            "data": {"resultType": kind, "result": result, "stats": {"summary": {}}},
        }
        if warnings:
            body["warnings"] = warnings
        self.send(200, body)


DOCS = {
    "logs": [
        {
            "@timestamp": "2026-11-30T10:00:00.000Z",
            "host": {"name": "web-1"},
            "status": 500,
            "message": "upstream timed out",
        },
        {
            "@timestamp": "2026-11-30T10:01:00.000Z",
            "host": {"name": "web-2"},
            "status": 500,
            "message": 'user "ops" said "}',
        },
        {
            "@timestamp": "2026-11-30T10:02:00.000Z",
            "host": {"name": "web-1"},
            "status": 200,
            "message": "ok",
        },
    ]
}


def _es_match(query: dict[str, Any], doc: dict[str, Any]) -> bool:
    def field(name: str) -> Any:
        value: Any = doc
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    ((kind, spec),) = query.items()
    if kind == "match_all":
        return True
    if kind == "term":
        ((name, want),) = spec.items()
        want = want.get("value") if isinstance(want, dict) else want
        return str(field(name)) == str(want)
    if kind == "match":
        ((name, want),) = spec.items()
        want = want.get("query") if isinstance(want, dict) else want
        return str(want).lower() in str(field(name)).lower()
    if kind == "range":
        ((name, bounds),) = spec.items()
        v = field(name)
        return all(
            (op == "gte" and v >= b)
            or (op == "lte" and v <= b)
            or (op == "gt" and v > b)
            or (op == "lt" and v < b)
            for op, b in bounds.items()
            if op in ("gte", "lte", "gt", "lt")
        )
    if kind == "bool":
        musts = [*spec.get("must", []), *spec.get("filter", [])]
        return all(_es_match(q, doc) for q in musts) and not any(
            _es_match(q, doc) for q in spec.get("must_not", [])
        )
    raise KeyError(kind)


class SearchHandler(_Base):
    product = "elasticsearch"

    def extra_headers(self) -> dict[str, str]:
        return {"X-Elastic-Product": "Elasticsearch"} if self.product == "elasticsearch" else {}

    def do_POST(self) -> None:
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        body = json.loads(self.read_body() or b"{}")
        media = (self.headers.get("Content-Type") or "") + (self.headers.get("Accept") or "")
        if self.product == "opensearch" and "vnd.elasticsearch" in media:
            return self.send(
                406,
                {
                    "error": f"Content-Type header [{self.headers.get('Content-Type')}] is not supported",
                    "status": 406,
                },
            )
        if len(parts) != 2 or parts[1] != "_search":
            return self.send(404, {"error": "no handler", "status": 404})
        index = parts[0]
        self.server.seen.append(
            {"index": index, "body": body, "auth": self.headers.get("Authorization")}
        )  # type: ignore[attr-defined]
        if index == "slow":
            time.sleep(3)
        if index == "missing":
            reason = {
                "type": "index_not_found_exception",
                "reason": f"no such index [{index}]",
                "index": index,
            }
            return self.send(404, {"error": {"root_cause": [reason], **reason}, "status": 404})
        docs = DOCS.get(index if index in DOCS else "logs", [])
        try:
            hits = [d for d in docs if _es_match(body.get("query") or {"match_all": {}}, d)]
        except (KeyError, ValueError, TypeError) as e:
            reason = {
                "type": "parsing_exception",
                "reason": f"unknown query [{e}]",
                "line": 1,
                "col": 10,
            }
            return self.send(400, {"error": {"root_cause": [reason], **reason}, "status": 400})
        if body.get("sort"):
            hits.sort(key=lambda d: d["@timestamp"], reverse=True)
        size = int(body.get("size", 10))
        shards: dict[str, Any] = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
        if index == "partial":
            shards = {
                "total": 2,
                "successful": 1,
                "skipped": 0,
                "failed": 1,
                "failures": [
                    {
                        "shard": 1,
                        "index": index,
                        "node": "n2",
                        "reason": {"type": "node_disconnected_exception", "reason": "node n2 left"},
                    }
                ],
            }
        answer: dict[str, Any] = {
            "took": 3,
            "timed_out": index == "partial",
            "_shards": shards,
            "hits": {
                "total": {"value": len(hits), "relation": "eq"},
                "max_score": 1.0,
                "hits": [
                    {"_index": index, "_id": str(i), "_score": 1.0, "_source": d}
                    for i, d in enumerate(hits[:size])
                ],
            },
        }
        if "aggs" in body:
            answer["aggregations"] = {"by_host": {"buckets": [{"key": "web-1", "doc_count": 2}]}}
        self.send(200, answer)


class OpenSearchHandler(SearchHandler):
    product = "opensearch"


LOGINS = [
    ("2026-11-30T09:58:00.0000000Z", "sobeys-sql01", 18456, "Login failed for user 'sa'"),
    ("2026-11-30T09:59:00.0000000Z", "sobeys-sql01", 18456, "Login failed for user 'ops'"),
    ("2026-11-30T09:59:30.0000000Z", "other", 18470, "Login failed: account disabled"),
]
_DECLARE = re.compile(r"^\s*declare\s+query_parameters\s*\(([^)]*)\)\s*;", re.I)
_WHERE = re.compile(r"^where\s+(\w+)\s*==\s*(?:(\w+)|'((?:[^'\\]|\\.)*)')$")


def _frames(
    columns: list[tuple[str, str]], rows: list[list[Any]], completion: list[list[Any]]
) -> list[dict[str, Any]]:
    info_columns = [
        ("Timestamp", "datetime"), ("ClientRequestId", "string"), ("ActivityId", "guid"),
        ("SubActivityId", "guid"), ("ParentActivityId", "guid"), ("Level", "int"),
        ("LevelName", "string"), ("StatusCode", "int"), ("StatusCodeName", "string"),
        ("EventType", "int"), ("EventTypeName", "string"), ("Payload", "string"),
    ]  # fmt: skip
    cols = lambda cs: [{"ColumnName": n, "ColumnType": t} for n, t in cs]  # noqa: E731
    return [
        {"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0"},
        {
            "FrameType": "DataTable", "TableId": 0, "TableKind": "QueryProperties",
            "TableName": "@ExtendedProperties",
            "Columns": cols([("TableId", "int"), ("Key", "string"), ("Value", "dynamic")]),
            "Rows": [[1, "Visualization", {"Visualization": None}]],
        },
        {
            "FrameType": "DataTable", "TableId": 1, "TableKind": "PrimaryResult",
            "TableName": "PrimaryResult", "Columns": cols(columns), "Rows": rows,
        },
        {
            "FrameType": "DataTable", "TableId": 2, "TableKind": "QueryCompletionInformation",
            "TableName": "QueryCompletionInformation", "Columns": cols(info_columns),
            "Rows": completion,
        },
        {"FrameType": "DataSetCompletion", "HasErrors": any(r[5] < 4 for r in completion), "Cancelled": False},
    ]  # fmt: skip


def _one_api_error(code: str, message: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "@type": kind,
        "@message": description,
        "@context": {"timestamp": "2026-11-30T10:00:00Z", "clientRequestId": "gert"},
        "@permanent": True,
    }


class KustoHandler(_Base):
    def do_POST(self) -> None:
        if urlparse(self.path).path != "/v2/rest/query":
            return self.send(
                404, {"error": _one_api_error("NotFound", "not found", "x", "no such endpoint")}
            )
        auth = self.headers.get("Authorization")
        if auth is not None and auth != f"Bearer {TOKEN}":
            return self.send(
                401, {"error": _one_api_error("Unauthorized", "Unauthorized", "x", "bad token")}
            )
        request = json.loads(self.read_body())
        props = json.loads(request.get("properties") or "{}")
        params, options = props.get("Parameters") or {}, props.get("Options") or {}
        self.server.seen.append(
            {
                "db": request["db"],
                "csl": request["csl"],
                "params": params,
                "options": options,
                "auth": auth,
            }
        )  # type: ignore[attr-defined]
        try:
            columns, rows, completion = self._run(request["csl"], params, options)
        except LookupError as e:
            err = _one_api_error(
                "General_BadRequest", "Request is invalid and cannot be executed.",
                "Kusto.Data.Exceptions.SemanticException", f"Semantic error: {e}",
            )  # fmt: skip
            return self.send(400, {"error": err})
        self.send(200, _frames(columns, rows, completion))

    def _run(
        self, csl: str, params: dict[str, str], options: dict[str, Any]
    ) -> tuple[Any, Any, Any]:
        declared: dict[str, str] = {}
        m = _DECLARE.match(csl)
        if m:
            for part in m.group(1).split(","):
                name, _, kind = part.partition(":")
                declared[name.strip()] = kind.strip()
            csl = csl[m.end() :]
        table, *pipes = [p.strip() for p in csl.split("|")]
        at = "2026-11-30T10:00:00.0000000Z"
        ok = [
            [
                at,
                "gert",
                str(uuid.uuid4()),
                str(uuid.uuid4()),
                str(uuid.uuid4()),
                4,
                "Info",
                0,
                "S_OK (0)",
                4,
                "QueryInfo",
                '{"Count": 1}',
            ]
        ]
        columns = [
            ("Timestamp", "datetime"),
            ("Server", "string"),
            ("Error", "int"),
            ("Message", "string"),
        ]
        if table == "Slow":
            time.sleep(3)
        elif table not in ("LoginFailures", "Partial"):
            raise LookupError(f"'{table}' could not be resolved")
        rows = [list(r) for r in LOGINS]
        for pipe in pipes:
            w = _WHERE.match(pipe)
            if w:
                column, name, literal = w.groups()
                if name is not None:
                    if name not in declared:
                        raise LookupError(f"'{name}' could not be resolved")
                    if name not in params:
                        raise LookupError(f"query parameter '{name}' has no value")
                    want = params[name]
                else:
                    want = literal
                i = [c for c, _ in columns].index(column)
                rows = [r for r in rows if str(r[i]) == want]
            elif pipe.startswith("take "):
                rows = rows[: int(pipe[5:])]
            else:
                raise LookupError(f"unknown operator '{pipe.split()[0]}'")
        if table == "Partial":
            err = _one_api_error(
                "LimitsExceeded", "Request is invalid and cannot be executed.",
                "Kusto.Data.Exceptions.KustoServicePartialQueryFailureLowMemoryConditionException",
                "Partial query failure: Low memory condition (E_LOW_MEMORY_CONDITION).",
            )  # fmt: skip
            if options.get("deferpartialqueryfailures"):
                ok.append(
                    [
                        at,
                        "gert",
                        "a",
                        "b",
                        "c",
                        2,
                        "Error",
                        -2133196797,
                        "E_LOW_MEMORY_CONDITION",
                        4,
                        "QueryInfo",
                        json.dumps(err),
                    ]
                )
            else:
                rows = [*rows[:1], {"OneApiErrors": [{"error": err}]}]  # type: ignore[list-item]
        return columns, rows, ok


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A scripted server on 127.0.0.1: (its URL, the requests it has seen)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
