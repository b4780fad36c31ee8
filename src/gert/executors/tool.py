"""``tool`` steps: an action of a ``*.tool.yaml`` (stdio, jsonrpc, mcp) or a built-in
query tool (``sql``, ``promql``, ``loki``, ``kusto``, ``elasticsearch``).

Action ``argv``, jsonrpc ``params`` and MCP arguments are templates over the step's
rendered args (plus the action's defaults). A JSON object on stdout (or in a result) is
the step's data: the query envelope that ``row_count`` and ``$.data[...]`` read.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gert.executors import StepContext, StepError, StepOutput
from gert.executors.cli import run_command
from gert.executors.sql import run_query, sqlite_path
from gert.model import parse_duration
from gert.template import render_tree
from gert.validate.querytext import LOGQL, PROMQL
from gert.validate.querytext import render as render_query

# The built-in query tools besides sql: each module's run(action, args, env, timeout)
# returns a gert.executors.queries.Answer. Imported when a step uses one.
QUERY_TOOLS = {
    "promql": "gert.executors.promql",
    "loki": "gert.executors.loki",
    "kusto": "gert.executors.kusto",
    "elasticsearch": "gert.executors.elasticsearch",
}
# Query languages without bound parameters: templates only in quoted values, escaped.
TEXT_QUERIES = {"promql": PROMQL, "loki": LOGQL}


def action_values(tool: Any, action: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The step's args plus the action's defaults: what action templates render against."""
    values = {k: a.default for k, a in action.args.items() if a.default is not None}
    values.update(args)
    return values


def _json(text: str) -> tuple[bool, Any]:
    text = text.strip()
    if not text or text[0] not in "[{":
        return False, None
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


class JsonRpcProcess:
    """One long-lived JSON-RPC 2.0 server over stdio (one JSON message per line)."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path):
        self.argv, self.env, self.cwd = argv, env, cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.next_id = 0
        self.stderr: list[bytes] = []

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        self.lines = queue.Queue()
        stdout, stderr = self.proc.stdout, self.proc.stderr

        def pump() -> None:
            for line in iter(stdout.readline, b""):  # type: ignore[union-attr]
                self.lines.put(line)
            self.lines.put(None)

        def drain() -> None:
            for line in iter(stderr.readline, b""):  # type: ignore[union-attr]
                self.stderr.append(line)
                del self.stderr[:-200]

        threading.Thread(target=pump, daemon=True).start()
        threading.Thread(target=drain, daemon=True).start()

    def call(self, method: str, params: Any, timeout: float | None) -> tuple[Any, str | None, bool]:
        """(result, error, restarted): starts the process, or restarts it if it died."""
        restarted = False
        if self.proc is None or self.proc.poll() is not None:
            restarted = self.proc is not None
            self._start()
        assert self.proc and self.proc.stdin
        self.next_id += 1
        rid = self.next_id
        request = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None, f"the tool process exited before the call ({self._exit()})", restarted
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.close()
                return None, f"no answer within {timeout:g}s; tool process stopped", restarted
            if line is None:
                return None, f"the tool process crashed during the call ({self._exit()})", restarted
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # not protocol output; ignore it
            if not isinstance(msg, dict) or msg.get("id") != rid:
                continue
            if "error" in msg:
                err = msg["error"] or {}
                return None, f"JSON-RPC error {err.get('code')}: {err.get('message')}", restarted
            return msg.get("result"), None, restarted

    def _exit(self) -> str:
        code = self.proc.wait(timeout=5) if self.proc else None
        tail = b"".join(self.stderr[-5:]).decode("utf-8", "replace").strip()
        return f"exit code {code}" + (f": {tail}" if tail else "")

    def close(self) -> None:
        """Stop the process group."""
        if self.proc and self.proc.poll() is None:
            import signal

            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class ToolExecutor:
    """Executes ``type: tool`` steps; keeps jsonrpc processes and MCP sessions alive for
    the run's length (one per tool)."""

    def __init__(self) -> None:
        self.servers: dict[str, JsonRpcProcess] = {}
        self.mcp: dict[str, Any] = {}  # tool -> gert.mcp_client.McpSession

    def close(self) -> None:
        """Stop every long-lived tool process and MCP session."""
        for server in self.servers.values():
            server.close()
        self.servers.clear()
        for session in self.mcp.values():
            session.close()
        self.mcp.clear()

    def render(self, step: Any, values: Mapping[str, str], project_root: Path) -> dict[str, Any]:
        """The tool, the action and its args rendered (a PromQL or LogQL query with each
        value escaped for the quoted string it stands in)."""
        args = step.tool.args
        lang = TEXT_QUERIES.get(step.tool.name)
        if lang and isinstance(args.get("query"), str):
            rest = render_tree({k: v for k, v in args.items() if k != "query"}, values)
            rendered = {**rest, "query": render_query(args["query"], values, lang)}
            args = {k: rendered[k] for k in args}  # the order the author wrote
        else:
            args = render_tree(args, values)
        return {"name": step.tool.name, "action": step.tool.action, "args": args}

    def execute(self, ctx: StepContext) -> StepOutput:
        """Call the rendered action."""
        r = ctx.rendered
        name, action_name, args = r["name"], r["action"], r.get("args", {})
        if name not in ctx.tools:
            if name == "sql":
                return self._sql(ctx, args)
            if name in QUERY_TOOLS:
                return self._query(ctx, name, action_name, args)
            raise StepError(f"unknown tool '{name}'")
        tool = ctx.tools[name]
        action = tool.actions.get(action_name)
        if action is None:
            raise StepError(f"tool '{name}' has no action '{action_name}'")
        values = action_values(tool, action, args)
        for arg, spec in action.args.items():
            if spec.required and arg not in values:
                raise StepError(f"action '{action_name}' of tool '{name}' needs arg '{arg}'")
            if spec.enum is not None and arg in values and values[arg] not in spec.enum:
                raise StepError(f"arg '{arg}' is {values[arg]!r}, not one of {spec.enum}")
        timeout = ctx.timeout or (
            parse_duration(tool.transport.timeout) if tool.transport.timeout else None
        )
        env = {**ctx.env, **tool.transport.env}
        cwd = ctx.project_root / tool.transport.cwd if tool.transport.cwd else ctx.project_root
        mode = tool.transport.mode
        if mode == "stdio":
            argv = [str(a) for a in render_tree(action.argv, values)]
            blocked = ctx.check_command(argv)
            if blocked:
                raise StepError(blocked)
            out = run_command(argv, env=env, cwd=cwd, timeout=timeout)
            out.request = {"tool": name, "action": action_name, "args": args, "argv": argv}
            out.has_data, out.data = _json(out.stdout)
            return out
        command = tool.transport.command or [tool.meta.binary]
        blocked = ctx.check_command(command)
        if blocked:
            raise StepError(blocked)
        params = render_tree(action.params, values) if action.params is not None else values
        if mode == "jsonrpc":
            return self._jsonrpc(
                name, action_name, action.method, params, args, command, env, cwd, timeout
            )
        session = self.mcp.get(name)
        if session is None:  # one server and session per tool for the whole run
            from gert.mcp_client import McpSession

            session = self.mcp[name] = McpSession(command, env=env, cwd=str(cwd))
        return _mcp_call(name, action_name, action.mcp_tool, params, args, session, timeout)

    def _sql(self, ctx: StepContext, args: dict[str, Any]) -> StepOutput:
        url, query = str(args.get("url", "")), str(args.get("query", ""))
        if url.startswith("sqlite:///"):
            path = sqlite_path(url, ctx.project_root)
            try:
                path.resolve().relative_to(ctx.project_root.resolve())
            except ValueError:
                raise StepError(
                    f"database {path} is outside the project; runbook paths stay inside it"
                ) from None
        result = run_query(url, query, args.get("params"), ctx.project_root, ctx.timeout)
        shown_url = url.split("@")[-1] if url.startswith("postgres") else url  # no credentials
        out = StepOutput(
            request={
                "tool": "sql",
                "action": "query",
                "url": shown_url,
                "query": query,
                "params": args.get("params") or {},
            }
        )
        out.data, out.has_data = result, True
        out.stdout = json.dumps(result, ensure_ascii=False)
        if not result["success"]:
            out.error = f"query failed: {result.get('message')}"
        return out

    def _query(self, ctx: StepContext, name: str, action: str, args: dict[str, Any]) -> StepOutput:
        from gert.executors.queries import DEFAULT_TIMEOUT

        module = importlib.import_module(QUERY_TOOLS[name])
        try:
            answer = module.run(action, args, ctx.env, ctx.timeout or DEFAULT_TIMEOUT)
        except StepError as e:  # refused before anything was sent: still, what was asked
            out = StepOutput(request={"tool": name, "action": action, "args": args})
            out.error = str(e)
            return out
        result, request = answer.result, answer.request
        # A server may echo what it was sent (a token in an error message): the secrets
        # the step named never reach the evidence, whatever the run's redaction knows.
        secrets = [ctx.env.get(str(v), "") for k, v in args.items() if k.endswith("_env") and v]
        if any(secrets):
            from gert.governance import Redactor

            redactor = Redactor(secrets=[s for s in secrets if s])
            result, request = redactor.data(result), redactor.data(request)
        out = StepOutput(request=request, timed_out=answer.timed_out)
        out.data, out.has_data = result, True
        out.stdout = json.dumps(result, ensure_ascii=False)
        if not result["success"]:
            out.error = f"query failed: {result.get('message')}"
        return out

    def _jsonrpc(
        self,
        name: str,
        action: str,
        method: str,
        params: Any,
        args: dict[str, Any],
        command: list[str],
        env: dict[str, str],
        cwd: Path,
        timeout: float | None,
    ) -> StepOutput:
        server = self.servers.get(name)
        if server is None:
            server = self.servers[name] = JsonRpcProcess(command, env, cwd)
        result, error, restarted = server.call(method, params, timeout or 60)
        out = StepOutput(
            request={
                "tool": name,
                "action": action,
                "method": method,
                "params": params,
                "args": args,
            }
        )
        if restarted:
            out.request["restarted"] = True
        if error:
            out.error = error
            return out
        out.data, out.has_data = result, True
        out.stdout = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        return out


def _mcp_call(
    name: str,
    action: str,
    tool_name: str,
    params: Any,
    args: dict[str, Any],
    session: Any,
    timeout: float | None,
) -> StepOutput:
    """Call one tool of an MCP server through the run's session and turn its answer
    into output."""
    from gert.mcp_client import McpFailed, McpUnavailable

    out = StepOutput(
        request={
            "tool": name,
            "action": action,
            "mcp_tool": tool_name,
            "arguments": params,
            "args": args,
        }
    )
    try:
        result = session.call(tool_name, params, timeout=timeout or 60)
    except McpUnavailable as e:
        raise StepError(str(e)) from None
    except McpFailed as e:
        out.error, out.timed_out = str(e), e.timed_out
        return out
    out.stdout = result.text
    if result.structured is not None:
        out.data, out.has_data = result.structured, True
    else:
        out.has_data, out.data = _json(out.stdout)
    if result.is_error:
        out.error = f"MCP tool '{tool_name}' failed: {out.stdout[:500]}"
    return out
