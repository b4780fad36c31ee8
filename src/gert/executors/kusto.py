"""The built-in ``kusto`` tool: KQL through Microsoft's ``azure-kusto-data`` client.

Action ``query`` on ``cluster`` (its URL) and ``database``. Values never enter the KQL
text: the query declares them (``declare query_parameters(server:string);``) and the
step gives them in ``params``, which travel as the request's query parameters
(``ClientRequestProperties``). Control commands (``.show``, ``.set``…) are refused: the
tool runs queries, which only read. The primary result table is the envelope; values
are kept as Kusto sent them (datetimes as ISO 8601 text, ``dynamic`` as JSON), and the
column types go in ``metadata.types``. Partial failures (Kusto's "partial query
failure") keep the rows that came back, with ``metadata.partial`` and the errors in
``message``.

``auth`` is ``az_cli`` (default), ``token`` (``token_env``), ``app_key`` (``client_id``,
``client_secret_env``, ``tenant_id``), ``managed_identity`` (optional ``client_id``), or
``none`` (a local emulator over http://). Secrets are named by environment variable.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from gert.executors import StepError
from gert.executors.queries import (
    Answer,
    Late,
    before_deadline,
    cut,
    envelope,
    failure,
    http_url,
    limit_of,
    loopback,
    secret,
    truncation_message,
)
from gert.validate.queries import control_command_at

ENGINE = "kusto"
AUTH_MODES = ("az_cli", "token", "app_key", "managed_identity", "none")


def connection(cluster: str, args: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    """The client's connection string builder for the step's auth mode."""
    from azure.kusto.data import KustoConnectionStringBuilder as Kcsb

    mode = str(args.get("auth") or ("token" if args.get("token_env") else "az_cli"))
    if mode == "none":
        if not cluster.startswith("http://"):
            raise StepError("auth: none is for a local cluster or emulator over http://")
        return Kcsb.with_no_authentication(cluster)
    if not cluster.startswith("https://") and not loopback(cluster):
        raise StepError("credentials go to a cluster only over https://")
    if mode == "token":
        token = secret(env, args, "token_env")
        if token is None:
            raise StepError("auth: token needs token_env, the variable that holds the token")
        return Kcsb.with_aad_application_token_authentication(cluster, token)
    if mode == "app_key":
        key = secret(env, args, "client_secret_env")
        if key is None or not args.get("client_id") or not args.get("tenant_id"):
            raise StepError("auth: app_key needs client_id, client_secret_env and tenant_id")
        return Kcsb.with_aad_application_key_authentication(
            cluster, str(args["client_id"]), key, str(args["tenant_id"])
        )
    if mode == "managed_identity":
        client_id = str(args["client_id"]) if args.get("client_id") else None
        return Kcsb.with_aad_managed_service_identity_authentication(cluster, client_id=client_id)
    if mode == "az_cli":
        return Kcsb.with_az_cli_authentication(cluster)
    raise StepError(f"auth is one of {', '.join(AUTH_MODES)}, not {mode!r}")


def _literal(value: Any) -> str:
    """A parameter's value as the request carries it (text; objects as JSON for dynamic)."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _reason(e: Exception) -> str:
    """What a client exception says, in one line."""
    from azure.kusto.data.exceptions import KustoApiError, KustoMultiApiError

    if isinstance(e, KustoApiError):
        err = e.get_api_error()
        return f"{err.code}: {err.description or err.message}"
    if isinstance(e, KustoMultiApiError):
        return "; ".join(f"{x.code}: {x.description or x.message}" for x in e.get_api_errors())
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:500]


def partial_errors(response: Any) -> list[str]:
    """The errors Kusto reported beside the rows (QueryCompletionInformation, level
    below 4), each as its message."""
    out = []
    for table in response.tables:
        if getattr(table.table_kind, "name", "") != "QueryCompletionInformation":
            continue
        names = [c.column_name for c in table.columns]
        if "Level" not in names or "Payload" not in names:
            continue
        level, payload = names.index("Level"), names.index("Payload")
        for row in table.raw_rows:
            if isinstance(row, list) and isinstance(row[level], int) and row[level] < 4:
                text = str(row[payload])
                try:
                    err = json.loads(text)
                    err = err.get("error", err) if isinstance(err, dict) else {}
                    text = str(err.get("@message") or err.get("message") or text)
                except ValueError:
                    pass
                out.append(" ".join(text.split())[:500])
    return out


def run(action: str, args: Mapping[str, Any], env: Mapping[str, str], timeout: float) -> Answer:
    """Run one KQL query and return the request and its envelope."""
    if action != "query":
        raise StepError(f"built-in tool 'kusto' has no action '{action}' (query)")
    cluster = http_url(args.get("cluster"), "cluster")
    database = str(args.get("database") or "")
    query = str(args.get("query") or "")
    if not database or not query.strip():
        raise StepError("the kusto tool needs a database and a query")
    if control_command_at(query) is not None:  # also behind a comment or a declare
        raise StepError("control commands are refused: the kusto tool runs queries only")
    params = args.get("params") or {}
    if not isinstance(params, dict):
        raise StepError("params is a mapping of query parameter names to values")
    limit = limit_of(args)
    request: dict[str, Any] = {
        "tool": "kusto",
        "action": action,
        "cluster": cluster,
        "database": database,
        "query": query,
        "params": dict(params),
        "auth": str(args.get("auth") or ("token" if args.get("token_env") else "az_cli")),
    }
    for name in ("token_env", "client_id", "client_secret_env", "tenant_id"):
        if args.get(name):
            request[name] = args[name]

    try:
        from azure.kusto.data import ClientRequestProperties, KustoClient
        from azure.kusto.data.exceptions import KustoError
    except ImportError:
        raise StepError(
            "the kusto tool needs azure-kusto-data: pip install 'gert[query]'"
        ) from None

    properties = ClientRequestProperties()
    for name, value in params.items():
        properties.set_parameter(str(name), _literal(value))
    properties.set_option(properties.request_timeout_option_name, dt.timedelta(seconds=timeout))
    # Partial failures come back beside the rows, not in place of them.
    properties.set_option("deferpartialqueryfailures", True)
    properties.set_option("truncationmaxrecords", limit + 1)
    properties.client_request_id = f"gert;{uuid.uuid4()}"
    began = time.perf_counter()
    try:
        client = KustoClient(connection(cluster, args, env))
    except (KustoError, ValueError) as e:
        raise StepError(f"cannot connect to {cluster}: {_reason(e)}") from None
    try:
        response = before_deadline(
            lambda: client.execute_query(database, query, properties), timeout
        )
    except Late as e:
        return Answer(request, failure(f"query timed out: {e}", ENGINE), timed_out=True)
    except KustoError as e:
        cause = e.__cause__
        late = cause is not None and "Timeout" in type(cause).__name__
        return Answer(request, failure(_reason(e), ENGINE), timed_out=late)
    except Exception as e:  # the client's own faults (auth libraries, parsing): one line
        return Answer(request, failure(f"{type(e).__name__}: {_reason(e)}", ENGINE))
    finally:
        client.close()
    primary = response.primary_results[0] if response.primary_results else None
    errors = partial_errors(response) if response.errors_count else []
    if primary is None:
        return Answer(request, failure("; ".join(errors) or "no primary result table", ENGINE))
    columns = [c.column_name for c in primary.columns]
    rows, truncated = cut([tuple(r) for r in primary.raw_rows], limit)
    notes = [f"partial result: {e}" for e in errors]
    if truncated:
        notes.append(truncation_message(truncated) or "")
    result = envelope(
        columns,
        rows,
        time.perf_counter() - began,
        ENGINE,
        types={c.column_name: c.column_type for c in primary.columns},
        partial=bool(errors),
        **truncated,
    )
    if notes:
        result["message"] = "; ".join(n for n in notes if n)
    return Answer(request, result)
