"""The built-in ``elasticsearch`` tool: a search with a query DSL body.

Action ``search`` on ``url``, ``index`` (literal; a pattern such as ``logs-*`` is fine)
and ``body`` (the query DSL as a mapping: ``query``, ``size``, ``sort``, ``aggs``…).
Elasticsearch goes through the official ``elasticsearch`` client; ``engine: opensearch``
sends the same ``_search`` request over plain HTTP, since the official client refuses
any server that does not say it is Elasticsearch. Values enter the body only as whole
JSON values at its leaves (see :mod:`gert.validate.queries`), so they cannot add a
clause.

Each hit is a row: ``_index``, ``_id``, then its ``_source`` flattened to dotted field
names (``host.name``) and any ``fields`` asked for; ``_score`` when there is one. The
hit count Elasticsearch reports is ``metadata.total`` (with ``total_relation``),
aggregations are ``metadata.aggregations``, and a search that timed out or lost shards
keeps its hits with ``metadata.partial`` and the reasons in ``message``. A body's
``size`` above ``limit`` is lowered to it.

Auth: ``api_key_env`` (an API key), ``token_env`` (a bearer token), or ``username`` and
``password_env`` (basic), each secret named by its environment variable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from gert.executors import StepError
from gert.executors.queries import (
    Answer,
    Late,
    auth_request,
    before_deadline,
    columns_of,
    cut,
    failure,
    fetch_json,
    http_auth,
    http_url,
    limit_of,
    public_url,
    records,
    secret,
    truncation_message,
)

ENGINE = "elasticsearch"


def _flat(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def _reason(error: Any) -> str:
    """An Elasticsearch error body as one line: its type and reason."""
    if isinstance(error, dict) and isinstance(error.get("error"), dict | str):
        error = error["error"]
    if isinstance(error, dict):
        causes = error.get("root_cause") or [error]
        first = causes[0] if isinstance(causes[0], dict) else error
        return f"{first.get('type', 'error')}: {first.get('reason', 'no reason given')}"
    return " ".join(str(error).split())[:500]


def envelope_of(body: Any, elapsed: float, limit: int, engine: str) -> dict[str, Any]:
    """The envelope of a ``_search`` answer."""
    if not isinstance(body, dict) or not isinstance(body.get("hits"), dict):
        return failure("the answer is not a search response", engine)
    try:
        return _envelope(body, elapsed, limit, engine)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        return failure(f"cannot read the search response: {e}", engine)


def _envelope(body: dict[str, Any], elapsed: float, limit: int, engine: str) -> dict[str, Any]:
    hits = body["hits"].get("hits") or []
    rows = []
    for hit in hits:
        if not isinstance(hit, dict):
            continue
        row = {"_index": hit.get("_index"), "_id": hit.get("_id")}
        row.update(_flat(hit.get("_source") or {}))
        row.update(
            {
                k: v[0] if isinstance(v, list) and len(v) == 1 else v
                for k, v in (hit.get("fields") or {}).items()
            }
        )
        if hit.get("_score") is not None:
            row["_score"] = hit["_score"]
        rows.append(row)
    kept, truncated = cut(rows, limit)
    total = body["hits"].get("total")
    shards = body.get("_shards") or {}
    notes = []
    if body.get("timed_out"):
        notes.append("partial result: the search timed out on some shards")
    for f in (shards.get("failures") or [])[:5]:
        notes.append(
            f"partial result: shard {f.get('shard')} of {f.get('index')}: {_reason(f.get('reason'))}"
        )
    if truncated:
        notes.append(truncation_message(truncated) or "")
    return records(
        columns_of(kept, ["_index", "_id"], ["_score"] if any("_score" in r for r in kept) else []),
        kept,
        elapsed,
        engine,
        message="; ".join(n for n in notes if n) or None,
        total=total.get("value") if isinstance(total, dict) else total,
        total_relation=total.get("relation") if isinstance(total, dict) else None,
        took_ms=body.get("took"),
        partial=bool(notes and (body.get("timed_out") or shards.get("failed"))),
        shards_failed=shards.get("failed") or None,
        aggregations=body.get("aggregations"),
        **truncated,
    )


def _client_search(
    base: str,
    index: str,
    body: dict[str, Any],
    args: Mapping[str, Any],
    env: Mapping[str, str],
    timeout: float,
) -> Any:
    from elasticsearch import Elasticsearch

    auth: dict[str, Any] = {}
    api_key = secret(env, args, "api_key_env")
    token = secret(env, args, "token_env")
    password = secret(env, args, "password_env")
    if api_key:
        auth["api_key"] = api_key
    elif token:
        auth["bearer_auth"] = token
    elif password is not None:
        if not args.get("username"):
            raise StepError("basic auth needs both username and password_env")
        auth["basic_auth"] = (str(args["username"]), password)
    client = Elasticsearch(
        base, request_timeout=timeout, max_retries=0, retry_on_timeout=False, **auth
    )
    try:
        return before_deadline(
            lambda: client.search(index=index, body=body).body,
            timeout,
        )
    finally:
        client.close()


def run(action: str, args: Mapping[str, Any], env: Mapping[str, str], timeout: float) -> Answer:
    """Run one search and return the request and its envelope."""
    if action != "search":
        raise StepError(f"built-in tool 'elasticsearch' has no action '{action}' (search)")
    base = http_url(args.get("url"))
    index = str(args.get("index") or "")
    if not index or "/" in index or (index.startswith(("_", "-", "+")) and index != "_all"):
        raise StepError(f"index {index!r} is not an index name or pattern")
    body = args.get("body")
    if not isinstance(body, dict):
        raise StepError("body is the query DSL as a mapping (query, size, sort, aggs…)")
    limit = limit_of(args)
    body = dict(body)
    try:
        size = int(str(body.get("size", 10)))
    except ValueError:
        raise StepError(f"body.size is a number of hits, not {body.get('size')!r}") from None
    if size > limit:
        body["size"] = limit
    engine = str(args.get("engine") or "elasticsearch")
    request: dict[str, Any] = {
        "tool": "elasticsearch",
        "action": action,
        "url": public_url(base),
        "index": index,
        "body": body,
        **auth_request(args),
    }
    if engine == "opensearch":
        request["engine"] = engine
    # Elasticsearch's own time limit, a little inside ours: it answers with what it found.
    sent = {"timeout": f"{int(timeout * 900)}ms", **body}
    began = time.perf_counter()
    if engine == "opensearch":
        headers = http_auth(env, {k: v for k, v in args.items() if k != "api_key_env"})
        key = secret(env, args, "api_key_env")
        if key:
            headers["Authorization"] = f"ApiKey {key}"
        answer, failed, timed_out = fetch_json(
            "POST",
            f"{base}/{index}/_search",
            "opensearch",
            timeout=timeout,
            content=json.dumps(sent),
            headers={**headers, "Content-Type": "application/json"},
        )
        if failed:
            return Answer(request, failed, timed_out)
        if isinstance(answer, dict) and "error" in answer:
            return Answer(
                request, failure(_reason(answer), "opensearch", status=answer.get("status"))
            )
        return Answer(
            request, envelope_of(answer, time.perf_counter() - began, limit, "opensearch")
        )
    if engine != "elasticsearch":
        raise StepError(f"engine is elasticsearch or opensearch, not {engine!r}")
    try:
        from elasticsearch import (
            ApiError,
            ConnectionTimeout,
            TransportError,
            UnsupportedProductError,
        )
    except ImportError:
        raise StepError(
            "the elasticsearch tool needs the elasticsearch client: pip install 'gert[query]'"
        ) from None

    try:
        answer = _client_search(base, index, sent, args, env, timeout)
    except Late as e:
        return Answer(request, failure(f"search timed out: {e}", ENGINE), timed_out=True)
    except UnsupportedProductError:
        return Answer(
            request,
            failure(
                "the server is not Elasticsearch (for OpenSearch, set engine: opensearch)", ENGINE
            ),
        )
    except ApiError as e:
        reason = _reason(e.body) if e.body else str(e.message)
        if e.meta.status == 406:  # OpenSearch refuses the client's media type
            reason += " (for OpenSearch, set engine: opensearch)"
        return Answer(request, failure(reason, ENGINE, status=e.meta.status))
    except ConnectionTimeout:
        return Answer(
            request, failure(f"search timed out after {timeout:g}s", ENGINE), timed_out=True
        )
    except TransportError as e:
        return Answer(request, failure(f"cannot reach {public_url(base)}: {e.message}", ENGINE))
    return Answer(request, envelope_of(answer, time.perf_counter() - began, limit, ENGINE))
