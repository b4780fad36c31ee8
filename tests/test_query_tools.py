"""The built-in query tools against real parts: a real Prometheus (backfilled with
promtool), and scripted Loki, Elasticsearch/OpenSearch and Kusto servers that speak each
service's wire format through the real clients (azure-kusto-data, elasticsearch).
Each tool in a recorded chain, replayed offline (rebased) and run by `gert test`."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import pytest

from gert.scenario import load_scenario
from helpers import gert

sys.path.insert(0, str(Path(__file__).parent / "servers"))
import prometheus_server as prom_server
from query_services import (
    TOKEN,
    KustoHandler,
    LokiHandler,
    OpenSearchHandler,
    SearchHandler,
    serving,
)

pytestmark = pytest.mark.slow

HOSTILE = 'nobody"}) or vector(1) or sum(x{a="'


@pytest.fixture(scope="module")
def prom():
    why = prom_server.missing()
    assert why is None, why
    with prom_server.prometheus() as (url, end):
        yield url, end


@pytest.fixture(scope="module")
def services():
    with (
        serving(LokiHandler) as loki,
        serving(SearchHandler) as es,
        serving(OpenSearchHandler) as opensearch,
        serving(KustoHandler) as kusto,
    ):
        yield {"loki": loki, "es": es, "opensearch": opensearch, "kusto": kusto}


def one_step(
    project, tool: str, action: str, args: dict, *, capture=None, timeout=None, inputs=None
):  # type: ignore[no-untyped-def]
    """Run a runbook of one tool step; its run result and its step file."""
    step = {"id": "q", "type": "tool", "tool": {"name": tool, "action": action, "args": args}}
    if capture:
        step["capture"] = capture
    if timeout:
        step["timeout"] = timeout
    meta = {
        "name": "q",
        "kind": "composable",
        "inputs": {k: {"from": "prompt"} for k in inputs or {}},
    }
    runbook = {"apiVersion": "runbook/v0", "meta": meta, "steps": [step]}
    project.write("q.runbook.yaml", json.dumps(runbook))
    run = project.run("q.runbook.yaml", variables=inputs or {}).final
    record = json.loads(next((run.folder / "steps").glob("*.json")).read_text())
    return run, record["attempts"][-1] if "attempts" in record else record


# ---------------------------------------------------------------- promql, real Prometheus


def test_promql_instant_query_flattens_the_vector(project, prom):
    url, end = prom
    run, step = one_step(
        project,
        "promql",
        "query",
        {"url": url, "query": 'login_failures_total{server="{{ .server }}"}', "time": str(end)},
        capture={"n": "row_count", "v": "$.data[0].value", "err": "$.data[0].error"},
        inputs={"server": "sobeys-sql01"},
    )
    assert run.status == "completed", run.error
    assert run.captures == {"n": "1", "v": "240", "err": "18456"}
    data = step["data"]
    assert data["columns"] == ["__name__", "error", "server", "timestamp", "value"]
    assert data["data"][0]["timestamp"] == dt.datetime.fromtimestamp(end, dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    assert data["metadata"]["result_type"] == "vector"
    assert step["request"]["time"] == data["data"][0]["timestamp"]


def test_promql_range_query_gives_a_row_per_sample(project, prom):
    url, end = prom
    run, step = one_step(
        project,
        "promql",
        "range",
        {
            "url": url,
            "query": "sum by (code) (rate(http_requests_total[5m]))",
            "start": str(end - 600),
            "end": str(end),
            "step": "1m",
        },
        capture={"n": "row_count"},
    )
    assert run.status == "completed", run.error
    rows = step["data"]["data"]
    assert run.captures["n"] == "22" and {r["code"] for r in rows} == {"200", "500"}
    by_code = [r for r in rows if r["code"] == "500"]
    assert [r["timestamp"] for r in by_code] == sorted(r["timestamp"] for r in by_code)
    assert all(abs(r["value"] - 1 / 15) < 1e-9 for r in by_code)  # +1 every 15 s
    assert step["request"]["step"] == "60"


def test_promql_bad_query_is_the_servers_error(project, prom):
    url, _ = prom
    run, step = one_step(project, "promql", "query", {"url": url, "query": "sum(rate(x[5m]"})
    assert run.status == "failed"
    assert step["data"]["success"] is False
    assert (
        step["data"]["message"].startswith("bad_data: ")
        and "parse error" in step["data"]["message"]
    )
    assert "query failed: bad_data" in run.steps[0].error


def test_promql_query_that_outlasts_its_timeout(project, prom):
    url, end = prom
    began = time.monotonic()
    run, step = one_step(
        project,
        "promql",
        "query",
        {"url": url, "query": "count_over_time(login_failures_total[30m:1ms])", "time": str(end)},
        timeout="300ms",
    )
    assert time.monotonic() - began < 5
    assert run.status == "failed"
    assert step.get("timed_out") or "timed out" in step["data"]["message"]


def test_a_captured_value_cannot_change_a_promql_query(project, prom):
    url, end = prom
    query = 'sum(login_failures_total{server="{{ .server }}"})'
    run, step = one_step(
        project,
        "promql",
        "query",
        {"url": url, "query": query, "time": str(end)},
        capture={"n": "row_count"},
        inputs={"server": HOSTILE},
    )
    assert run.status == "completed", run.error
    assert run.captures["n"] == "0"  # no series has that server: nothing matched
    assert step["request"]["query"] == (
        'sum(login_failures_total{server="nobody\\"}) or vector(1) or sum(x{a=\\""})'
    )
    # The same value spliced as text would have added a series of its own:
    spliced = query.replace("{{ .server }}", HOSTILE)
    run, step = one_step(
        project, "promql", "query", {"url": url, "query": spliced, "time": str(end)}
    )
    assert step["data"]["rowCount"] == 1 and step["data"]["data"][0]["value"] == 1


def test_promql_regex_matcher_matches_the_value_literally(project, prom):
    url, end = prom
    run, step = one_step(
        project,
        "promql",
        "query",
        {"url": url, "query": 'login_failures_total{server=~"{{ .s }}"}', "time": str(end)},
        inputs={"s": ".*"},
    )
    assert run.status == "completed" and step["data"]["rowCount"] == 0
    assert step["request"]["query"] == 'login_failures_total{server=~"\\\\.\\\\*"}'


def test_a_template_outside_a_label_value_is_refused_by_validate_and_at_render(project):
    from gert.executors.tool import ToolExecutor
    from gert.model import ToolStep
    from gert.template import TemplateError

    project.write(
        "w.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: w, kind: composable, inputs: {w: {default: 5m}}}
        steps:
          - id: q
            type: tool
            tool:
              name: promql
              action: query
              args: {url: "http://127.0.0.1:9", query: "rate(x[{{ .w }}])"}
        """,
    )
    r = gert("validate", "w.runbook.yaml", cwd=project.root)
    assert r.returncode == 2
    assert (
        "w.runbook.yaml:9:56: error: steps[0].tool.args.query: a template outside a quoted value"
        in r.stdout
    )
    assert "hint: PromQL has no bound parameters" in r.stdout
    # a runbook that skipped validation meets the same rule when the step is rendered
    step = ToolStep.model_validate(
        {
            "id": "q",
            "type": "tool",
            "tool": {
                "name": "promql",
                "action": "query",
                "args": {"url": "u", "query": "rate(x[{{ .w }}])"},
            },
        }
    )
    with pytest.raises(TemplateError, match="outside a quoted value"):
        ToolExecutor().render(step, {"w": "5m] or vector(1"}, project.root)


# ---------------------------------------------------------------- loki


def test_loki_streams_become_one_row_per_line(project, services):
    url, seen = services["loki"]
    run, step = one_step(
        project,
        "loki",
        "query_range",
        {
            "url": url,
            "query": '{app="login", level="error"} |= "{{ .code }}"',
            "start": "now-1h",
            "tenant": "team-a",
        },
        capture={"n": "row_count", "newest": "$.data[0].line"},
        inputs={"code": "18456"},
    )
    assert run.status == "completed", run.error
    assert run.captures == {"n": "2", "newest": 'login failed for user "ops": error 18456'}
    data = step["data"]
    assert data["columns"] == ["app", "level", "timestamp", "line"]
    assert data["data"][0]["timestamp"].endswith(".123456789Z")
    assert seen[-1]["auth"] is None
    assert seen[-1]["tenant"] == "team-a" and step["request"]["tenant"] == "team-a"


def test_loki_auth_by_variable_name_and_never_recorded(project, services, monkeypatch):
    url, seen = services["loki"]
    monkeypatch.setenv("LOKI_TOKEN", "loki-secret-token-42")
    run, step = one_step(
        project, "loki", "query", {"url": url, "query": '{app="api"}', "token_env": "LOKI_TOKEN"}
    )
    assert run.status == "completed", run.error
    assert seen[-1]["auth"] == "Bearer loki-secret-token-42"
    assert step["request"]["token_env"] == "LOKI_TOKEN"
    assert "loki-secret-token-42" not in project.files_text()
    run, step = one_step(
        project, "loki", "query", {"url": url, "query": '{app="echo"}', "token_env": "LOKI_TOKEN"}
    )
    assert (
        run.status == "failed"
        and step["data"]["message"] == "HTTP 401: unauthorized: token *** expired"
    )
    assert "loki-secret-token-42" not in project.files_text()
    monkeypatch.delenv("LOKI_TOKEN")
    run, _ = one_step(
        project, "loki", "query", {"url": url, "query": '{app="api"}', "token_env": "LOKI_TOKEN"}
    )
    assert run.status == "failed" and "LOKI_TOKEN (token_env) is not set" in run.steps[0].error


def test_loki_limit_warnings_metrics_errors_and_slow_answers(project, services):
    url, _ = services["loki"]
    _, step = one_step(
        project,
        "loki",
        "query_range",
        {"url": url, "query": '{app="login"}', "start": "now-1h", "limit": 2},
    )
    assert step["data"]["rowCount"] == 2 and step["data"]["metadata"]["limited"] is True
    assert "limit of 2 lines" in step["data"]["message"]
    _, step = one_step(project, "loki", "query", {"url": url, "query": '{app="warn"}'})
    assert step["data"]["metadata"]["warnings"] == ["the stream is noisy"]
    _, step = one_step(
        project,
        "loki",
        "query_range",
        {
            "url": url,
            "query": 'count_over_time({app="login"}[5m])',
            "start": "now-5m",
            "step": "1m",
        },
    )
    assert (
        step["data"]["columns"] == ["timestamp", "value"] and step["data"]["data"][0]["value"] == 3
    )
    run, step = one_step(project, "loki", "query", {"url": url, "query": '{app="login"'})
    assert run.status == "failed" and step["data"]["message"].startswith("HTTP 400: parse error")
    run, step = one_step(
        project, "loki", "query", {"url": url, "query": '{app="slow"}'}, timeout="300ms"
    )
    assert run.status == "failed" and step["timed_out"] is True


def test_a_captured_value_cannot_change_a_logql_query(project, services):
    url, seen = services["loki"]
    run, step = one_step(
        project,
        "loki",
        "query",
        {"url": url, "query": '{app="{{ .app }}"} |= "{{ .text }}"'},
        inputs={"app": 'login", level=~".+', "text": 'x" != "'},
    )
    assert run.status == "completed" and step["data"]["rowCount"] == 0
    assert seen[-1]["args"]["query"] == '{app="login\\", level=~\\".+"} |= "x\\" != \\""'


# ---------------------------------------------------------------- elasticsearch / opensearch


ES_BODY = {
    "query": {
        "bool": {
            "filter": [{"term": {"status": "{{ .status }}"}}, {"match": {"message": "{{ .text }}"}}]
        }
    },
    "sort": [{"@timestamp": "desc"}],
    "size": 5,
}


def test_elasticsearch_search_through_the_official_client(project, services, monkeypatch):
    url, seen = services["es"]
    monkeypatch.setenv("ES_KEY", "es-api-key-123")
    run, step = one_step(
        project,
        "elasticsearch",
        "search",
        {"url": url, "index": "logs", "body": ES_BODY, "api_key_env": "ES_KEY"},
        capture={"n": "row_count", "host": "$.data[0]['host.name']", "total": "$.metadata.total"},
        inputs={"status": "500", "text": 'said "}'},
    )
    assert run.status == "completed", run.error
    assert run.captures == {"n": "1", "host": "web-2", "total": "1"}
    assert step["data"]["columns"] == [
        "_index",
        "_id",
        "@timestamp",
        "host.name",
        "message",
        "status",
        "_score",
    ]
    assert seen[-1]["auth"] == "ApiKey es-api-key-123"
    # the value arrived as one JSON string, in its place
    assert seen[-1]["body"]["query"]["bool"]["filter"][1] == {"match": {"message": 'said "}'}}
    assert "es-api-key-123" not in project.files_text()


@pytest.mark.parametrize(
    ("index", "engine", "status", "fragment"),
    [
        (
            "missing",
            "elasticsearch",
            "failed",
            "index_not_found_exception: no such index [missing]",
        ),
        (
            "partial",
            "elasticsearch",
            "completed",
            "partial result: shard 1 of partial: node_disconnected_exception",
        ),
        ("logs", "opensearch", "completed", None),
    ],
)
def test_elasticsearch_errors_partial_results_and_opensearch(
    project, services, index, engine, status, fragment
):
    url, _ = services["opensearch" if engine == "opensearch" else "es"]
    run, step = one_step(
        project, "elasticsearch", "search",
        {"url": url, "index": index, "body": {"query": {"match_all": {}}}, "engine": engine},
    )  # fmt: skip
    assert run.status == status, run.error
    if fragment:
        assert fragment in step["data"]["message"]
    if index == "partial":
        assert step["data"]["metadata"]["partial"] is True and step["data"]["rowCount"] == 3
    if engine == "opensearch":
        assert step["data"]["metadata"]["engine"] == "opensearch" and step["data"]["rowCount"] == 3


def test_the_official_client_against_opensearch_says_what_to_set(project, services):
    url, _ = services["opensearch"]
    run, step = one_step(
        project, "elasticsearch", "search", {"url": url, "index": "logs", "body": {}}
    )
    assert run.status == "failed" and "set engine: opensearch" in step["data"]["message"]


def test_elasticsearch_bad_query_and_slow_search(project, services):
    url, _ = services["es"]
    run, step = one_step(
        project,
        "elasticsearch",
        "search",
        {"url": url, "index": "logs", "body": {"query": {"nope": {}}}},
    )
    assert run.status == "failed" and step["data"]["message"].startswith("parsing_exception: ")
    began = time.monotonic()
    run, step = one_step(
        project,
        "elasticsearch",
        "search",
        {"url": url, "index": "slow", "body": {}},
        timeout="400ms",
    )
    assert run.status == "failed" and step["timed_out"] is True and time.monotonic() - began < 2.5


# ---------------------------------------------------------------- kusto


KQL = "declare query_parameters(server:string); LoginFailures | where Server == server | take 10"


def test_kusto_query_parameters_through_the_official_client(project, services, monkeypatch):
    url, seen = services["kusto"]
    monkeypatch.setenv("KUSTO_TOKEN", TOKEN)
    run, step = one_step(
        project,
        "kusto",
        "query",
        {
            "cluster": url,
            "database": "Logs",
            "query": KQL,
            "params": {"server": "{{ .server }}"},
            "token_env": "KUSTO_TOKEN",
        },
        capture={"n": "row_count", "first": "$.data[0].Message"},
        inputs={"server": "sobeys-sql01"},
    )
    assert run.status == "completed", run.error
    assert run.captures == {"n": "2", "first": "Login failed for user 'sa'"}
    data = step["data"]
    assert data["columns"] == ["Timestamp", "Server", "Error", "Message"]
    assert data["metadata"]["types"]["Timestamp"] == "datetime"
    assert data["data"][0]["Timestamp"] == "2026-11-30T09:58:00.0000000Z"
    assert seen[-1]["params"] == {"server": "sobeys-sql01"} and seen[-1]["csl"] == KQL
    assert seen[-1]["auth"] == f"Bearer {TOKEN}"
    assert seen[-1]["options"]["deferpartialqueryfailures"] is True
    assert TOKEN not in project.files_text()


def test_a_hostile_kusto_value_stays_a_value(project, services):
    url, seen = services["kusto"]
    run, step = one_step(
        project, "kusto", "query",
        {"cluster": url, "database": "Logs", "query": KQL, "params": {"server": "{{ .s }}"}, "auth": "none"},
        inputs={"s": "x' or 1==1 | take 100 //"},
    )  # fmt: skip
    assert run.status == "completed" and step["data"]["rowCount"] == 0
    assert seen[-1]["csl"] == KQL


def test_kusto_errors_partial_results_slow_answers_and_commands(project, services):
    url, _ = services["kusto"]
    args = {"cluster": url, "database": "Logs", "auth": "none"}
    run, step = one_step(project, "kusto", "query", {**args, "query": "Nope | take 1"})
    assert run.status == "failed"
    assert (
        step["data"]["message"]
        == "General_BadRequest: Semantic error: 'Nope' could not be resolved"
    )
    run, step = one_step(project, "kusto", "query", {**args, "query": "Partial"})
    assert run.status == "completed" and step["data"]["metadata"]["partial"] is True
    assert (
        step["data"]["message"]
        == "partial result: Partial query failure: Low memory condition (E_LOW_MEMORY_CONDITION)."
    )
    run, step = one_step(project, "kusto", "query", {**args, "query": "Slow"}, timeout="400ms")
    assert run.status == "failed" and step["timed_out"] is True
    run, _ = one_step(
        project, "kusto", "query", {**args, "query": "LoginFailures | take 1", "limit": 1}
    )
    assert run.status == "completed"
    # a control command never reaches the cluster (and does not validate)
    project.write(
        "c.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: c, kind: composable}}
        steps:
          - {{id: q, type: tool, tool: {{name: kusto, action: query, args: {{cluster: "{url}", database: Logs, auth: none, query: .drop table LoginFailures}}}}}}
        """,
    )
    r = gert("validate", "c.runbook.yaml", cwd=project.root)
    assert r.returncode == 2 and "control commands are refused" in r.stdout


# ---------------------------------------------------------------- the four in a real chain


CHAIN = """
apiVersion: runbook/v0
meta:
  name: logins
  inputs:
    server: {{from: prompt}}
  vars:
    prom: "{prom}"
    loki: "{loki}"
    es: "{es}"
    kusto: "{kusto}"
steps:
  - id: rate
    type: tool
    tool:
      name: promql
      action: query
      args: {{url: "{{{{ .prom }}}}", query: 'sum(login_failures_total{{server="{{{{ .server }}}}"}})', time: "{end}"}}
    capture: {{failures: "$.data[0].value"}}
  - id: lines
    type: tool
    tool:
      name: loki
      action: query_range
      args: {{url: "{{{{ .loki }}}}", query: '{{app="login"}} |= "{{{{ .failures }}}}"', start: now-1h}}
    capture: {{lines: row_count, newest: "$.data[0].timestamp"}}
  - id: hits
    type: tool
    tool:
      name: elasticsearch
      action: search
      args: {{url: "{{{{ .es }}}}", index: logs, body: {{query: {{term: {{status: 500}}}}}}}}
    capture: {{hits: row_count}}
  - id: logins
    type: tool
    tool:
      name: kusto
      action: query
      args:
        cluster: "{{{{ .kusto }}}}"
        database: Logs
        auth: none
        query: "declare query_parameters(server:string); LoginFailures | where Server == server"
        params: {{server: "{{{{ .server }}}}"}}
    capture: {{logins: row_count, first_at: "$.data[0].Timestamp"}}
    outcomes:
      - when: logins > 0
        state: needs_rca
        recommendation: "{{{{ .logins }}}} failed logins on {{{{ .server }}}}"
"""


def test_each_tool_recorded_replayed_offline_and_tested(project, prom):
    project.config("record: auto\n")
    url, end = prom
    with (
        serving(LokiHandler) as (loki, _),
        serving(SearchHandler) as (es, _),
        serving(KustoHandler) as (kusto, _),
    ):
        project.write(
            "logins.runbook.yaml", CHAIN.format(prom=url, loki=loki, es=es, kusto=kusto, end=end)
        )
        r = gert("validate", "logins.runbook.yaml", cwd=project.root)
        assert r.returncode == 0, r.stdout
        chain = project.run("logins.runbook.yaml", variables={"server": "sobeys-sql01"})
    run = chain.final
    assert run.status == "completed" and run.state == "needs_rca", run.error
    assert run.captures["failures"] == "240" and run.captures["lines"] == "0"
    assert run.captures["hits"] == "2" and run.captures["logins"] == "2"
    assert chain.scenario
    # the scripted servers are gone: replay and gert test never run a step live
    scenario = load_scenario(project.root / chain.scenario)
    target = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    replay = project.run("logins.runbook.yaml", mode="replay", scenario=scenario, rebase_to=target)
    again = replay.final
    assert again.status == "completed" and again.state == "needs_rca"
    offset = target - dt.datetime.fromisoformat(run.started_at.replace("Z", "+00:00"))
    shifted = dt.datetime.fromisoformat(again.captures["first_at"][:26] + "+00:00")
    assert abs(shifted - (dt.datetime(2026, 11, 30, 9, 58, tzinfo=dt.UTC) + offset)) < dt.timedelta(
        seconds=1
    )
    rate = json.loads(next((again.folder / "steps").glob("*-rate.json")).read_text())
    recorded = dt.datetime.fromtimestamp(end, dt.UTC)
    assert rate["attempts"][0]["request"]["time"].startswith(
        (recorded + offset).strftime("%Y-%m-%dT%H:%M:%S")
    )
    r = gert("test", "--update", cwd=project.root)
    assert r.returncode == 0, r.stdout
    assert (
        "expected_outcome: needs_rca" in (project.root / chain.scenario / "test.yaml").read_text()
    )
    r = gert("test", cwd=project.root)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "1 passed, 0 failed, 0 skipped", (
        r.stdout
    )


def test_dry_run_shows_the_escaped_query_and_runs_nothing(project):
    project.write(
        "d.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: d, kind: composable, inputs: {server: {from: prompt}}, vars: {prom: "http://127.0.0.1:9"}}
        steps:
          - id: q
            type: tool
            tool: {name: promql, action: query, args: {url: "{{ .prom }}", query: 'up{instance="{{ .server }}"}'}}
        """,
    )
    r = gert("exec", "d.runbook.yaml", "--mode", "dry-run", "--var", 'server=a"b', cwd=project.root)
    assert r.returncode == 0, r.stdout + r.stderr
    trace = next((project.root / ".runbook" / "runs").glob("*/trace.jsonl")).read_text()
    done = [json.loads(line) for line in trace.splitlines() if '"step_completed"' in line]
    assert done[0]["data"]["would_run"]["args"]["query"] == 'up{instance="a\\"b"}'


def test_the_editor_schema_knows_the_built_in_tools_args():
    import jsonschema

    from gert.model import runbook_json_schema

    validator = jsonschema.Draft202012Validator(runbook_json_schema())

    def errors(args: dict) -> list[str]:
        step = {
            "id": "q",
            "type": "tool",
            "tool": {"name": "promql", "action": "range", "args": args},
        }
        doc = {"apiVersion": "runbook/v0", "meta": {"name": "q"}, "steps": [step]}
        return [e.message for e in validator.iter_errors(doc)]

    good = {"url": "http://p:9090", "query": "up", "start": "now-1h", "step": "1m", "limit": 10}
    assert errors(good) == []
    assert errors({**good, "querry": "up"}) != []  # a misspelt arg
    assert errors({k: v for k, v in good.items() if k != "step"}) != []  # a missing one


@pytest.mark.parametrize(
    "query",
    [
        "// look at failures\n.drop table LoginFailures",
        "declare query_parameters(x:string);\n.drop table LoginFailures",
        "let a = 1;  .show tables",
        "  .set-or-append T <| print 1",
    ],
)
def test_a_kusto_control_command_hides_behind_nothing(project, services, query):
    """A control command after a comment, a declare or a let is still refused, by
    validate and by the tool (it never reaches the cluster)."""
    from gert.executors import StepError
    from gert.executors.kusto import run as kusto_query

    url, _ = services["kusto"]
    args = {"cluster": url, "database": "Logs", "auth": "none", "query": query}
    project.write(
        "c.runbook.yaml",
        json.dumps(
            {
                "apiVersion": "runbook/v0",
                "meta": {"name": "c", "kind": "composable"},
                "steps": [
                    {
                        "id": "q",
                        "type": "tool",
                        "tool": {"name": "kusto", "action": "query", "args": args},
                    }
                ],
            }
        ),
    )
    r = gert("validate", "c.runbook.yaml", cwd=project.root)
    assert r.returncode == 2 and "control commands are refused" in r.stdout, r.stdout
    with pytest.raises(StepError, match="control commands are refused"):
        kusto_query("query", args, {}, 5.0)


def test_a_dot_in_a_kusto_string_or_comment_is_no_command():
    from gert.validate.queries import control_command_at

    for query in ['T | where a == "; .drop"', "T // ; .drop", "let y = 1;\nT", "T\n| take 5;"]:
        assert control_command_at(query) is None, query


def test_a_sql_url_connects_only_where_the_runbook_says(project):
    """The host of a sql URL may not come from an input (the password would go there);
    its password may come from a secret input, not from any other."""
    runbook = """
    apiVersion: runbook/v0
    meta:
      name: s
      kind: composable
      inputs:
        db_host: {from: incident.custom_fields.DbHost}
        db_password: {from: env.DBPASS, secret: true}
        note: {default: x}
    steps:
      - id: host_from_input
        type: tool
        tool: {name: sql, action: query, args: {url: "postgresql://app:{{ .db_password }}@{{ .db_host }}/app", query: select 1}}
      - id: secret_password
        type: tool
        tool: {name: sql, action: query, args: {url: "postgresql://app:{{ .db_password }}@db.internal/app", query: select 1}}
      - id: plain_password
        type: tool
        tool: {name: sql, action: query, args: {url: "postgresql://app:{{ .note }}@db.internal/app", query: select 1}}
    """
    project.write("s.runbook.yaml", runbook)
    r = gert("validate", "s.runbook.yaml", cwd=project.root)
    assert r.returncode == 2
    refused = [ln for ln in r.stdout.splitlines() if "may not come from" in ln]
    assert len(refused) == 2, r.stdout
    assert "steps[0]" in refused[0] and "'db_host'" in refused[0]
    assert "steps[2]" in refused[1] and "'note'" in refused[1]


def test_a_credential_the_project_hides_from_steps_says_so(project, prom, monkeypatch):
    """token_env naming a variable that deny_env_vars hides: the step says it is set but
    hidden, and how to decide (not merely "not set")."""
    project.write("gert.yaml", "governance:\n  deny_env_vars: ['*_TOKEN']\n")
    url, _ = prom
    monkeypatch.setenv("PROM_TOKEN", "abc123def456ghi789")
    run, step = one_step(
        project, "promql", "query", {"url": url, "query": "up", "token_env": "PROM_TOKEN"}
    )
    assert run.status == "failed"
    assert step["request"]["args"]["token_env"] == "PROM_TOKEN"  # what was asked, kept
    error = run.steps[-1].error
    assert "PROM_TOKEN (token_env) is set, but deny_env_vars" in error
    assert "abc123def456ghi789" not in error
    monkeypatch.delenv("PROM_TOKEN")
    run, _ = one_step(
        project, "promql", "query", {"url": url, "query": "up", "token_env": "PROM_TOKEN"}
    )
    assert "PROM_TOKEN (token_env) is not set" in run.steps[-1].error
