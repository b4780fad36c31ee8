"""`gert mcp`: the SDK's own client drives the example incident through gert's MCP server,
over stdio (the client starts `gert mcp`) and over streamable HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from helpers import triaged_example, wait_for
from test_server import APPROVE

INCIDENT = "747870160"
TRIAGE = "runbooks/login-success-rate-below-target.runbook.yaml"
pytestmark = pytest.mark.slow


def result(r: Any) -> Any:
    """A tool result's structured content (or its text, parsed)."""
    assert not r.is_error, r.content
    if r.structured_content is not None:
        data = r.structured_content
        return data.get("result", data) if set(data) == {"result"} else data
    return json.loads(r.content[0].text)


def error_text(r: Any) -> str:
    assert r.is_error, r
    return " ".join(getattr(c, "text", "") for c in r.content)


async def drive(session: Any, root: Path) -> dict[str, Any]:
    """The example incident, end to end, through the tools; what it saw."""
    seen: dict[str, Any] = {}
    tools = (await session.list_tools()).tools
    seen["tools"] = {t.name: t for t in tools}
    runbooks = result(await session.call_tool("list_runbooks", {}))
    assert any(r["path"] == TRIAGE for r in runbooks)
    misspelt = await session.call_tool("dry_run", {"runbook": TRIAGE, "incident": INCIDENT})
    assert "takes no argument 'incident' (did you mean 'incident_id'?)" in error_text(misspelt)
    unset = await session.call_tool("dry_run", {"runbook": TRIAGE, "variables": "x"})
    assert error_text(unset).startswith("dry_run: variables: ")
    assert "pydantic" not in error_text(unset)
    typo = await session.call_tool("dry_run", {"runbook": TRIAGE.replace("below", "belo")})
    assert f"(did you mean '{TRIAGE}'?)" in error_text(typo)
    by_name = await session.call_tool("run", {"runbook": "login-success-rate-below-target"})
    assert "variables: {server_name: VALUE}" in error_text(by_name)  # its words, not --var
    assert "--var" not in error_text(by_name)
    dry = result(await session.call_tool("dry_run", {"runbook": TRIAGE, "incident_id": INCIDENT}))
    assert dry["runs"][0]["runbook"] == "login-success-rate-below-target"
    real = result(await session.call_tool("run", {"runbook": TRIAGE, "incident_id": INCIDENT}))
    waiting = real["waiting"]
    assert waiting["step_id"] == "wait_for_build" and "87% rebuilt" in waiting["instructions"]
    wrong = await session.call_tool(
        "answer_step",
        {"run_id": waiting["run_id"], "step_id": "wait_for_build", "answers": {"outcome": "happy"}},
    )
    assert "outcome: one of resolved, escalated" in error_text(wrong)
    answers = {
        "dashboard_link": "https://dash.example/1",
        "checks": ["build completed", "login rate above target"],
        "outcome": "resolved",
    }
    done = result(
        await session.call_tool(
            "answer_step",
            {"run_id": waiting["run_id"], "step_id": "wait_for_build", "answers": answers},
        )
    )
    assert done["final_state"] == "resolved"
    seen["run_id"] = waiting["run_id"]
    status = result(await session.call_tool("run_status", {"run_id": waiting["run_id"]}))
    assert status["status"] == "completed" and status["outcome"]["state"] == "resolved"
    verified = result(await session.call_tool("verify_trace", {"run_id": waiting["run_id"]}))
    assert verified["ok"] is True
    shown = result(await session.call_tool("show_incident", {"incident_id": INCIDENT}))
    assert len(shown["chains"]) == 1
    draft = result(await session.call_tool("draft_postmortem", {"incident_id": INCIDENT}))
    assert "Executive Summary" in draft["markdown"]
    assert "Step wait_for_build waited for a person's answers" in draft["markdown"]
    assert "wait_for_build failed" not in draft["markdown"]  # it waited; nothing failed
    assert "Assistant (for the on-call engineer)" in draft["markdown"]
    resource = await session.read_resource(f"gert://runs/{waiting['run_id']}")
    assert json.loads(resource.contents[0].text)["run_id"] == waiting["run_id"]
    runbook = await session.read_resource("gert://runbooks/login-success-rate-below-target")
    assert "name: login-success-rate-below-target" in runbook.contents[0].text
    postmortem = await session.read_resource(f"gert://postmortems/{INCIDENT}")
    assert "Executive Summary" in postmortem.contents[0].text
    saved = sorted((root / "scenarios").glob("*/*/scenario.yaml"))[-1].parent
    scenario = await session.read_resource(f"gert://scenarios/{saved.parent.name}/{saved.name}")
    assert "scenario.yaml" in json.loads(scenario.contents[0].text)["files"]
    templates = {
        t.uri_template for t in (await session.list_resource_templates()).resource_templates
    }
    assert {"gert://runbooks/{name}", "gert://scenarios/{runbook}/{name}"} <= templates
    prompts = {p.name for p in (await session.list_prompts()).prompts}
    assert {"triage_incident", "write_postmortem"} <= prompts
    return seen


def test_an_assistant_triages_the_example_incident_over_stdio(tmp_path: Path) -> None:
    from mcp import ClientSession, StdioServerParameters, types
    from mcp.client.stdio import stdio_client

    root = triaged_example(tmp_path, 0)
    (root / "runbooks" / "approve.runbook.yaml").write_text(APPROVE)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "gert.cli", "mcp"], cwd=str(root)
    )

    async def main() -> dict[str, Any]:
        async with (
            stdio_client(params) as (read, write),
            ClientSession(
                read, write, client_info=types.Implementation(name="test-assistant", version="1")
            ) as session,
        ):
            await session.initialize()
            seen = await drive(session, root)
            # approvals stay human: the run waits, the tool cannot grant it
            r = result(await session.call_tool("run", {"runbook": "runbooks/approve.runbook.yaml"}))
            refused = await session.call_tool(
                "answer_step",
                {
                    "run_id": r["waiting"]["run_id"],
                    "step_id": "sign_off",
                    "answers": {"approved_by": ["me"]},
                },
            )
            assert "approvals stay human" in error_text(refused)
            cannot = await session.call_tool(
                "request_approval", {"run_id": r["waiting"]["run_id"], "step_id": "sign_off"}
            )
            assert "cannot ask its user" in error_text(cannot)
            seen["approve"] = r
            # bad arguments: structured errors, no traceback
            bad = await session.call_tool("run", {"runbook": "../../etc/passwd"})
            assert "no runbook '../../etc/passwd' in the project" in error_text(bad)
            missing = await session.call_tool("show_run", {})
            assert missing.is_error
            # no secret in any tool result
            every = [
                await session.call_tool("show_run", {"run_id": r["waiting"]["run_id"]}),
                await session.call_tool("run_status", {"run_id": r["waiting"]["run_id"]}),
                await session.call_tool("list_incidents", {}),
            ]
            assert all(
                "hunter2" not in json.dumps([c.model_dump() for c in x.content]) for x in every
            )
            assert "hunter2" not in json.dumps(r)
            return seen

    seen = anyio.run(main)
    assert len(seen["tools"]) >= 14
    documented = (Path(__file__).parents[1] / "docs" / "mcp.md").read_text()
    for tool in seen["tools"].values():
        assert tool.input_schema["type"] == "object" and tool.description
        assert f"| `{tool.name}` |" in documented, f"{tool.name} is not in docs/mcp.md"
    manifest = (root / ".runbook" / "runs" / seen["run_id"] / "run.yaml").read_text()
    assert "assistant:test-assistant" in manifest  # who acted, as the trace records it


def test_an_assistant_reaches_gert_over_http(tmp_path: Path) -> None:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    root = triaged_example(tmp_path, 0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gert.cli", "mcp", "--transport", "http", "--port", str(port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, timeout=30, interval=0.1, what="gert mcp to listen")

        async def main() -> dict[str, Any]:
            async with (
                streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write, *_),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await drive(session, root)

        seen = anyio.run(main)
        assert len(seen["tools"]) >= 14
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def stdio_params(root: Path) -> Any:
    """`gert mcp` on stdio, started in *root* by the client."""
    from mcp import StdioServerParameters

    return StdioServerParameters(
        command=sys.executable, args=["-m", "gert.cli", "mcp"], cwd=str(root)
    )


def test_a_person_approves_through_the_client_never_the_assistant(tmp_path: Path) -> None:
    """request_approval asks the person at the client (MCP elicitation): a decline leaves
    the run waiting; an approval is recorded under the person's name, through the
    assistant; a project that says approvals: never refuses to ask."""
    from mcp import ClientSession, types
    from mcp.client.stdio import stdio_client

    root = triaged_example(tmp_path, 0)
    (root / "runbooks" / "approve.runbook.yaml").write_text(APPROVE)
    asked: list[types.ElicitRequestParams] = []
    replies = [
        types.ElicitResult(action="decline"),
        types.ElicitResult(action="accept", content={"approve": True}),  # no name
        types.ElicitResult(action="accept", content={"approve": True, "name": "assistant:x"}),
        types.ElicitResult(action="accept", content={"approve": True, "name": "Ana  Ops"}),
    ]

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params)
        return replies.pop(0)

    async def main() -> dict[str, Any]:
        async with (
            stdio_client(stdio_params(root)) as (read, write),
            ClientSession(
                read,
                write,
                client_info=types.Implementation(name="test-assistant", version="1"),
                elicitation_callback=person,
            ) as session,
        ):
            await session.initialize()
            r = result(await session.call_tool("run", {"runbook": "runbooks/approve.runbook.yaml"}))
            run_id = r["waiting"]["run_id"]
            hint = await session.call_tool(
                "answer_step", {"run_id": run_id, "step_id": "sign_off", "answers": {}}
            )
            assert "with request_approval, the person at this client" in error_text(hint)
            args = {"run_id": run_id, "step_id": "sign_off"}
            declined = result(await session.call_tool("request_approval", args))
            assert declined["approved"] is False and declined["answer"] == "decline"
            status = result(await session.call_tool("run_status", {"run_id": run_id}))
            assert status["status"] == "waiting"
            typed = await session.call_tool(
                "request_approval", {**args, "answers": {"approved_by": ["me"]}}
            )
            assert "never an argument" in error_text(typed)
            nameless = await session.call_tool("request_approval", args)
            assert "gave no name: the run still waits" in error_text(nameless)
            posing = await session.call_tool("request_approval", args)
            assert "not a person's name" in error_text(posing)
            return {"run_id": run_id, **result(await session.call_tool("request_approval", args))}

    done = anyio.run(main)
    assert done["approved"] is True and done["approved_by"] == ["Ana Ops"]
    assert done["final_state"] == "resolved"
    assert len(asked) == 4
    message = asked[0].message
    assert "Approve the failover." in message and "not your assistant" in message
    assert "hunter2" not in message
    assert set(asked[0].requested_schema["properties"]) == {"approve", "name"}
    events = [
        json.loads(line)
        for line in (root / ".runbook" / "runs" / done["run_id"] / "trace.jsonl")
        .read_text()
        .splitlines()
    ]
    granted = [e for e in events if e.get("type") == "approval_granted"]
    assert granted[-1]["data"]["approved_by"] == ["Ana Ops"]
    resumed = [e for e in events if e.get("type") == "run_resumed"]
    assert resumed[-1]["data"]["actor"] == "user:Ana Ops via assistant:test-assistant"

    (root / "gert.yaml").write_text(
        (root / "gert.yaml").read_text() + "\nmcp: {approvals: never}\n"
    )

    async def refused() -> str:
        async with (
            stdio_client(stdio_params(root)) as (read, write),
            ClientSession(read, write, elicitation_callback=person) as session,
        ):
            await session.initialize()
            r = result(await session.call_tool("run", {"runbook": "runbooks/approve.runbook.yaml"}))
            args = {"run_id": r["waiting"]["run_id"], "step_id": "sign_off"}
            return error_text(await session.call_tool("request_approval", args))

    assert "approvals: never" in anyio.run(refused)
    assert len(asked) == 4  # never asked


SLOW = """apiVersion: runbook/v0
meta: {name: slow-check, kind: composable}
steps:
  - {id: talk, type: cli, with: {argv: [sh, talk.sh]}}
  - {id: after, type: cli, with: {argv: [echo, done]}}
"""


def slow_project(tmp_path: Path) -> Path:
    """The example project with a runbook whose first step takes 3 s (and writes the pid
    of the gert process that runs it)."""
    root = triaged_example(tmp_path, 0)
    (root / "runbooks" / "slow.runbook.yaml").write_text(SLOW)
    (root / "talk.sh").write_text("echo $PPID > gert.pid; echo started; sleep 3; echo second\n")
    return root


def slow_run(root: Path) -> Path:
    """The folder of the slow runbook's run."""
    [run] = [
        p
        for p in (root / ".runbook" / "runs").iterdir()
        if "runbook_name: slow-check" in (p / "run.yaml").read_text()
    ]
    return run


def trace_of(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]


def test_a_cancelled_run_call_stops_the_chain_before_its_next_step(tmp_path: Path) -> None:
    """The client gives up on a run call: the chain stops at its next step, recorded as
    interrupted; nothing goes on behind the assistant's back."""
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    root = slow_project(tmp_path)

    async def main() -> None:
        async with (
            stdio_client(stdio_params(root)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            with anyio.move_on_after(1.5):
                await session.call_tool("run", {"runbook": "runbooks/slow.runbook.yaml"})
            for _ in range(100):  # the step ends (3 s), then the chain stops
                await anyio.sleep(0.1)
                if "status: interrupted" in (slow_run(root) / "run.yaml").read_text():
                    break

    anyio.run(main)
    run = slow_run(root)
    assert "status: interrupted" in (run / "run.yaml").read_text()
    events = trace_of(run)
    assert "request was cancelled" in events[-1]["data"].get("reason", "") or any(
        "request was cancelled" in e["data"].get("reason", "") for e in events
    )
    assert not any(e["data"].get("step_id") == "after" for e in events)


def test_resume_after_the_server_died_mid_step(tmp_path: Path) -> None:
    """gert mcp killed while a step runs: resume says what it needs in its own arguments
    (in_flight, retry_steps), and with them goes on to the end."""
    import os
    import signal

    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    root = slow_project(tmp_path)

    async def crash() -> None:
        try:
            async with (
                stdio_client(stdio_params(root)) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(
                        session.call_tool, "run", {"runbook": "runbooks/slow.runbook.yaml"}
                    )
                    for _ in range(100):
                        await anyio.sleep(0.1)
                        if (root / "gert.pid").exists() and (root / "gert.pid").read_text():
                            break
                    os.kill(int((root / "gert.pid").read_text()), signal.SIGKILL)
                    await anyio.sleep(0.5)
                    tg.cancel_scope.cancel()
        except BaseException:  # the server is gone: the client's streams break
            pass

    anyio.run(crash)
    run_id = slow_run(root).name

    async def resume() -> list[str]:
        said = []
        async with (
            stdio_client(stdio_params(root)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            first = await session.call_tool("resume", {"run_id": run_id})
            said.append(error_text(first))
            args = {"run_id": run_id, "in_flight": "kill", "retry_steps": ["talk"]}
            done = result(await session.call_tool("resume", args))
            said.append(done["final_state"])
        return said

    refused, state = anyio.run(resume)
    assert "in_flight: wait" in refused or "retry_steps: [talk]" in refused, refused
    assert "--" not in refused  # the tool's words, not the command line's
    assert state == "completed"
    assert any(e["data"].get("step_id") == "after" for e in trace_of(slow_run(root)))
