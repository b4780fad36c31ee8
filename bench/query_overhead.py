"""What gert's built-in query tools cost per query over calling each service's client
directly, against local servers: a real Prometheus (backfilled by promtool, as the tests
do) and the scripted Loki, Elasticsearch and Kusto servers of tests/servers (run in a
child process, so their CPU is not counted here).

For each tool: the tool (``gert.executors.<tool>.run``: checking args, rendering the
request, a client per query, the envelope) against the same query through the client a
script would keep (an httpx2 client for Prometheus and Loki, ``Elasticsearch``,
``KustoClient``). Wall and CPU time of this process, min and median per query over
RUNS queries after a warm-up; the overhead is the difference of the medians (and of the
mins). Target: <= 5 ms of wall time per query.

Run: .venv/bin/python bench/query_overhead.py [RUNS]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from _util import ROOT, measure_calls, report

sys.path.insert(0, str(ROOT / "tests" / "servers"))

import prometheus_server

SERVE = """
import json, sys, threading, contextlib
sys.path.insert(0, {servers!r})
from query_services import serving, LokiHandler, SearchHandler, KustoHandler
with contextlib.ExitStack() as stack:
    urls = [stack.enter_context(serving(h))[0] for h in (LokiHandler, SearchHandler, KustoHandler)]
    print(json.dumps(urls), flush=True)
    sys.stdin.read()
"""


def compare(name: str, tool: Any, direct: Any, runs: int) -> tuple[float, float]:
    """Measure the tool and the direct call; print both and the overhead; (wall, CPU) ms."""
    for _ in range(3):  # warm: imports, connections, the server's caches
        tool()
        direct()
    ours = measure_calls(tool, runs)
    theirs = measure_calls(direct, runs)
    report(f"{name}: gert's tool, per query", ours)
    report(f"{name}: the client directly, per query", theirs)
    wall = ours["wall"]["median"] - theirs["wall"]["median"]
    cpu = ours["cpu"]["median"] - theirs["cpu"]["median"]
    print(
        f"    overhead: wall {wall:.2f} ms (min {ours['wall']['min'] - theirs['wall']['min']:.2f}), "
        f"CPU {cpu:.2f} ms (min {ours['cpu']['min'] - theirs['cpu']['min']:.2f})"
    )
    return wall, cpu


def main(runs: int = 50) -> None:
    import httpx2
    from azure.kusto.data import ClientRequestProperties, KustoClient
    from azure.kusto.data import KustoConnectionStringBuilder as Kcsb
    from elasticsearch import Elasticsearch

    from gert.executors import elasticsearch, kusto, loki, promql

    child = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(servers=str(ROOT / "tests" / "servers"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    loki_url, es_url, kusto_url = json.loads(child.stdout.readline())
    try:
        with prometheus_server.prometheus() as (prom_url, end):
            http = httpx2.Client(timeout=30)
            query = 'sum(rate(http_requests_total{job="api"}[5m]))'
            args = {"url": prom_url, "query": query, "time": str(end)}
            form = {"query": query, "time": str(end)}
            results = [
                compare(
                    "promql (real Prometheus)",
                    lambda: promql.run("query", args, {}, 30),
                    lambda: http.post(f"{prom_url}/api/v1/query", data=form).json(),
                    runs,
                )
            ]
            logql = '{app="login", level="error"} |= "18456"'
            results.append(
                compare(
                    "loki (scripted)",
                    lambda: loki.run("query", {"url": loki_url, "query": logql}, {}, 30),
                    lambda: http.get(
                        f"{loki_url}/loki/api/v1/query", params={"query": logql, "limit": 100}
                    ).json(),
                    runs,
                )
            )
            body = {"query": {"term": {"status": 500}}, "size": 10}
            es = Elasticsearch(es_url, request_timeout=30)
            results.append(
                compare(
                    "elasticsearch (scripted, official client)",
                    lambda: elasticsearch.run(
                        "search", {"url": es_url, "index": "logs", "body": body}, {}, 30
                    ),
                    lambda: es.search(index="logs", body=body).body,
                    runs,
                )
            )
            kql = "declare query_parameters(server:string); LoginFailures | where Server == server"
            client = KustoClient(Kcsb.with_no_authentication(kusto_url))

            def kusto_direct() -> object:
                props = ClientRequestProperties()
                props.set_parameter("server", "sobeys-sql01")
                return client.execute_query("Logs", kql, props).primary_results[0].raw_rows

            kusto_args = {
                "cluster": kusto_url,
                "database": "Logs",
                "auth": "none",
                "query": kql,
                "params": {"server": "sobeys-sql01"},
            }
            results.append(
                compare(
                    "kusto (scripted, azure-kusto-data)",
                    lambda: kusto.run("query", kusto_args, {}, 30),
                    kusto_direct,
                    runs,
                )
            )
            worst = max(w for w, _ in results)
            print(
                f"worst overhead: wall {worst:.2f} ms  target <= 5 ms: {'met' if worst <= 5 else 'MISSED'}"
            )
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(10)


if __name__ == "__main__":
    started = time.perf_counter()
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
    print(f"({time.perf_counter() - started:.1f} s in all)")
