"""A JSON-RPC 2.0 tool server over stdio (one message per line), for the tests.

Methods: host.status {host} -> {state, host, pid}; query {rows} -> a query envelope;
boom -> error object; crash -> exits mid-call; slow {seconds} -> sleeps, then answers.
"""

import json
import os
import sys
import time

for line in sys.stdin:
    try:
        req = json.loads(line)
    except ValueError:
        continue
    method, params, rid = req.get("method"), req.get("params") or {}, req.get("id")
    print("log line that is not protocol", flush=True)  # servers chatter; clients must cope
    if method == "crash":
        os._exit(3)
    if method == "slow":
        time.sleep(float(params.get("seconds", 5)))
    if method == "boom":
        reply = {
            "jsonrpc": "2.0",
            "id": rid,
            "error": {"code": -32000, "message": "the host is on fire"},
        }
    elif method == "query":
        rows = [{"node": f"n{i}"} for i in range(int(params.get("rows", 0)))]
        reply = {
            "jsonrpc": "2.0",
            "id": rid,
            "result": {
                "success": True,
                "rowCount": len(rows),
                "columns": ["node"],
                "data": rows,
                "metadata": {},
            },
        }
    else:
        reply = {
            "jsonrpc": "2.0",
            "id": rid,
            "result": {"state": "up", "host": params.get("host"), "pid": os.getpid()},
        }
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
