"""``gert mcp``: the project to an AI assistant, over the Model Context Protocol (the
official SDK), on stdio or HTTP.

A surface like the command line and the server: every tool calls the library. What an
assistant does is recorded with the actor ``assistant:<client name>``. **Approvals stay
human**: no tool grants one; a run that needs one waits, and the tool says who must
approve and where (``gert serve``'s form, ``gert resume --evidence``), or, when the client
can ask its user (MCP elicitation), ``request_approval`` asks that person and records the
approval as theirs.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from gert.project import Project

# The engine speaks the command line's words; an assistant calls tools with arguments.
_TOOL_TERMS = [
    (
        re.compile(r"give them in --evidence FILE under '([^']+):'"),
        r"give them with answer_step (step_id '\1')",
    ),
    (re.compile(r"--var ([\w.-]+)=VALUE"), r"variables: {\1: VALUE}"),
    (re.compile(r"--retry-step ([\w.-]+)"), r"retry_steps: [\1]"),
    (re.compile(r"--skip-step ([\w.-]+)"), r"skip_steps: [\1]"),
    (re.compile(r"--in-flight (wait|kill)"), r"in_flight: \1"),
    (re.compile(r"--incident\b"), "incident_id"),
    (re.compile(r"--evidence FILE"), "answer_step"),
]


def tool_terms(text: str) -> str:
    """An engine message with the command line's flags as the tools' arguments."""
    for pattern, replacement in _TOOL_TERMS:
        text = pattern.sub(replacement, text)
    return text


class _Server(MCPServer):
    """The SDK's server, stricter with arguments: a name a tool does not take is an error
    that names the ones it does (a misspelt optional argument is never dropped), and a
    wrong type reads as one line per field."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        """Check the arguments by name, then call the tool."""
        import difflib

        from pydantic import ValidationError

        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            known = sorted(tool.parameters.get("properties", {}))
            for given in arguments:
                if given not in known:
                    near = difflib.get_close_matches(given, known, n=1)
                    hint = f" (did you mean '{near[0]}'?)" if near else ""
                    raise ToolError(
                        f"{name} takes no argument '{given}'{hint}; it takes: {', '.join(known)}"
                    )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            cause = e.__cause__
            if not isinstance(cause, ValidationError):
                raise
            lines = [
                f"{'.'.join(str(x) for x in err['loc']) or 'arguments'}: {err['msg'].lower()}"
                for err in cause.errors(include_url=False)
            ]
            raise ToolError(f"{name}: " + "; ".join(lines)) from None


INSTRUCTIONS = (
    "gert runs incident-response runbooks as governed, traceable programs. Start with "
    "list_runbooks or show_incident; prefer dry_run before run. A run that reaches a manual "
    "step waits: read it with run_status and answer with answer_step. Approvals are given by "
    "people only: request_approval asks the person at your client, or they use gert serve or "
    "gert resume. Never approve on their behalf."
)


def build(project: Project) -> Any:
    """The MCP server of *project* (its tools, resources and prompts)."""
    from gert.errors import GertError
    from gert.governance import Redactor
    from gert.version import __version__

    server = _Server("gert", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    redactor = Redactor.from_config(project.config.redact)
    root = project.root
    server.chains = []  # type: ignore[attr-defined]  # (stop, done) of each chain running

    def shown(data: Any) -> Any:
        return redactor.data(data)

    def relative(data: Any) -> Any:
        """*data* with the project's folder left out of every path in it."""
        if isinstance(data, str):
            return data.replace(f"{root}/", "")
        if isinstance(data, dict):
            return {k: relative(v) for k, v in data.items()}
        if isinstance(data, list):
            return [relative(v) for v in data]
        return data

    def client_name(ctx: Context | None) -> str:
        """The client's name, as its initialize request gave it."""
        name = "unknown"
        try:
            params = ctx.request_context.session.client_params  # type: ignore[union-attr]
            info = getattr(params, "client_info", None) or getattr(params, "clientInfo", None)
            name = str(getattr(info, "name", "") or "unknown")
        except Exception:  # an older client or a transport without one: still recorded
            pass
        return " ".join(name.split())[:64] or "unknown"

    def actor(ctx: Context | None) -> str:
        """assistant:<the client's name>: who acts through a tool."""
        return f"assistant:{client_name(ctx)}"

    def inside(rel: str, what: str = "file") -> Path:
        path = root / rel
        if not rel or "\0" in rel or not project.contains(path) or not path.exists():
            raise ToolError(f"no {what} {rel!r} in the project")
        return path

    def runbook_path(ref: str) -> Path:
        """A runbook by its path in the project or by its name; an error suggests the
        nearest when neither fits."""
        import difflib

        from gert.testing import runbook_names

        path = root / ref
        if ref and "\0" not in ref and project.contains(path) and path.is_file():
            return path
        names = runbook_names(project)
        by_name = names.get(ref) if ref and "/" not in ref else None
        if by_name is not None:
            return by_name
        known = [str(p.relative_to(root)) for p in names.paths() if project.contains(p)]
        near = difflib.get_close_matches(ref, known, n=1, cutoff=0.6)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise ToolError(
            f"no runbook {ref!r} in the project{hint}: give its path (list_runbooks) or name"
        )

    def guarded(call: Any) -> Any:
        try:
            return call()
        except ToolError:
            raise
        except GertError as e:
            text = tool_terms(str(e).replace(f"{root}/", ""))
            raise ToolError(redactor.text(text)) from None

    async def in_engine(call: Callable[[threading.Event], Any]) -> Any:
        """Run *call* (given the event that stops its chain) on a thread. A cancelled
        request, or the server stopping, stops the chain before its next step; it is
        recorded as interrupted, and resume goes on with it."""
        import anyio

        stop, done = threading.Event(), threading.Event()
        server.chains.append((stop, done))  # type: ignore[attr-defined]

        def go() -> Any:
            try:
                return guarded(lambda: call(stop))
            finally:
                done.set()

        try:
            return await anyio.to_thread.run_sync(go, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            stop.set()
            raise
        finally:
            server.chains[:] = [c for c in server.chains if not c[1].is_set()]  # type: ignore[attr-defined]

    def options(ctx: Context | None, stop: threading.Event, **given: Any) -> Any:
        from gert.engine import Options

        given.setdefault("actor", actor(ctx))
        return Options(
            stop=stop,
            stop_reason="the assistant's request was cancelled, or gert mcp stopped",
            **given,
        )

    elicits = project.config.mcp.approvals == "elicit"

    def human_routes(run_id: str) -> str:
        return (
            f"on the run's page (gert serve: /runs/{run_id}) or with gert resume {run_id} "
            "--evidence FILE"
        )

    def client_can_ask(ctx: Context) -> bool:
        from mcp import types

        try:
            session = ctx.request_context.session
            return session.check_client_capability(
                types.ClientCapabilities(elicitation=types.ElicitationCapability())
            )
        except Exception:  # no session capabilities to read: it cannot ask
            return False

    def waiting_at(run_id: str, step_id: str) -> dict[str, Any]:
        """What *run_id* waits for at *step_id*; a ToolError when it waits for nothing or
        at another step."""
        from gert.overview import run_view

        view = guarded(lambda: run_view(project, run_id))
        waiting = view.waiting
        if not waiting:
            raise ToolError(f"run {run_id} is {view.manifest.get('status')}: nothing waits")
        if waiting["step_id"] != step_id:
            raise ToolError(f"run {run_id} waits at step '{waiting['step_id']}', not '{step_id}'")
        return {**waiting, "runbook": view.manifest.get("runbook_name", "")}

    def waiting_shown(waiting: dict[str, Any] | None) -> dict[str, Any] | None:
        if waiting and waiting.get("needs"):
            waiting = {**waiting, "needs": tool_terms(str(waiting["needs"]))}
        return waiting

    def chain_summary(chain: Any) -> dict[str, Any]:
        from gert.overview import run_view

        out = chain.to_dict(root)
        waiting = [r for r in chain.runs if r.status == "waiting"]
        if waiting:
            view = run_view(project, waiting[-1].run_id)
            out["waiting"] = {"run_id": waiting[-1].run_id, **(waiting_shown(view.waiting) or {})}
        return shown(out)

    @server.tool()
    def list_runbooks() -> list[dict[str, Any]]:
        """Every runbook of the project: name, kind, description, inputs, and whether it is valid."""
        from gert.catalog import list_runbooks as listed

        out = []
        for e in listed(project=project):
            entry = e.to_dict()
            entry["path"] = str(e.path.resolve().relative_to(project.real_root))
            out.append(entry)
        return out

    @server.tool()
    def validate(paths: list[str]) -> dict[str, Any]:
        """Check runbooks, tool files, signatures, scenarios (paths relative to the project): every problem with file:line:col."""
        from gert.validate import validate_paths

        report = validate_paths([inside(p, "path") for p in paths], jobs=1)
        problems = [p.to_dict() for p in report.problems]
        for p in problems:
            p["file"] = str(p["file"]).replace(f"{root}/", "")
        return {"valid": not report.errors, "files": len(report.files), "problems": problems}

    async def execute(
        ctx: Context | None,
        runbook: str,
        mode: str,
        incident_id: str | None,
        variables: dict[str, str],
    ) -> dict[str, Any]:
        from gert.engine import Engine

        path = runbook_path(runbook)

        def go(stop: threading.Event) -> Any:
            given = options(ctx, stop, mode=mode, incident_id=incident_id, variables=variables)
            with Engine(project) as engine:
                return engine.run(path, given)

        return chain_summary(await in_engine(go))

    @server.tool()
    async def dry_run(
        runbook: str,
        ctx: Context,
        incident_id: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Walk a runbook's chain (a path in the project, or a runbook's name) without running anything: what each step would do, with inputs bound from the incident."""
        return await execute(ctx, runbook, "dry-run", incident_id, variables or {})

    @server.tool()
    async def run(
        runbook: str,
        ctx: Context,
        incident_id: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Run a runbook's chain (a path in the project, or a runbook's name) for real, under the project's governance. Returns every run's state; a run that reaches a manual step waits (see run_status, answer_step, request_approval). A cancelled call stops the chain before its next step."""
        return await execute(ctx, runbook, "real", incident_id, variables or {})

    @server.tool()
    def run_status(run_id: str) -> dict[str, Any]:
        """A run's state, outcome and, when it waits, what it waits for (the step, its instructions, the evidence, choices and outcomes it takes)."""
        from gert.overview import run_view

        view = guarded(lambda: run_view(project, run_id))
        m = view.manifest
        return shown(
            {
                "run_id": run_id,
                "runbook": m.get("runbook_name"),
                "status": m.get("status"),
                "outcome": m.get("outcome") or None,
                "steps_summary": view.steps_summary(),
                "waiting": waiting_shown(view.waiting),
                "verified": view.verified,
            }
        )

    @server.tool()
    async def answer_step(
        run_id: str, step_id: str, answers: dict[str, Any], ctx: Context
    ) -> dict[str, Any]:
        """Answer the manual step a run waits at (evidence by name, choice, outcome); the run goes on. Never an approval: request_approval asks the person at your client, or people approve in gert serve or with gert resume."""
        from gert.engine import Engine
        from gert.overview import answer_problems

        waiting = waiting_at(run_id, step_id)
        if waiting.get("approvals") or "approved_by" in answers:
            ask = (
                " or, with request_approval, the person at this client"
                if elicits and client_can_ask(ctx)
                else ""
            )
            raise ToolError(
                f"step '{step_id}' needs an approval: approvals stay human. An approver gives "
                f"it {human_routes(run_id)}{ask}"
            )
        if not waiting.get("answerable"):
            raise ToolError(f"answer step '{step_id}' with gert resume {run_id} --evidence FILE")
        wrong = answer_problems(waiting, answers)
        if wrong:
            raise ToolError("; ".join(wrong))

        def go(stop: threading.Event) -> Any:
            with Engine(project) as engine:
                return engine.resume(run_id, options(ctx, stop, answers={step_id: answers}))

        return chain_summary(await in_engine(go))

    @server.tool()
    async def request_approval(
        run_id: str, step_id: str, ctx: Context, answers: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Ask the person at the client (MCP elicitation) to approve the step a run waits at, with any evidence it also needs in answers; the approval is recorded as theirs, never the assistant's. Refused when the client cannot ask its user."""
        from pydantic import BaseModel, Field

        from gert.engine import Engine
        from gert.overview import answer_problems

        waiting = waiting_at(run_id, step_id)
        need = int(waiting.get("approvals") or 0)
        if not need:
            raise ToolError(f"step '{step_id}' needs no approval: answer it with answer_step")
        if not elicits:
            raise ToolError(
                "this project takes approvals from people in gert serve or gert resume only "
                f"(gert.yaml mcp.approvals: never): an approver gives it {human_routes(run_id)}"
            )
        if need > 1:
            raise ToolError(
                f"step '{step_id}' needs {need} approvals, given together: gert resume "
                f"{run_id} --evidence FILE ({step_id}: {{approved_by: [names]}})"
            )
        if not client_can_ask(ctx):
            raise ToolError(
                "this client cannot ask its user (it declares no MCP elicitation): an "
                f"approver gives it {human_routes(run_id)}"
            )
        given = dict(answers or {})
        if "approved_by" in given:
            raise ToolError("approved_by is the person's answer, never an argument")
        wrong = answer_problems(waiting, given)
        if wrong:
            raise ToolError("; ".join(wrong))

        class Approval(BaseModel):
            approve: bool = Field(False, description="Approve this step")
            name: str = Field("", description="Your name: the trace records you as the approver")

        message = approval_message(run_id, waiting, given)
        asked = await ctx.elicit(message, Approval)
        if asked.action != "accept" or not asked.data.approve:
            return {
                "run_id": run_id,
                "step_id": step_id,
                "approved": False,
                "answer": asked.action,
                "status": "waiting",
            }
        name = " ".join(asked.data.name.split())[:64]
        if not name or not name.isprintable():
            raise ToolError("the approver gave no name: the run still waits")
        if ":" in name or name.lower().startswith("assistant"):
            raise ToolError(
                f"{name!r} is not a person's name (an approver names themselves, never an "
                "actor such as assistant:…): the run still waits"
            )
        person = f"user:{name} via assistant:{client_name(ctx)}"
        answered = {step_id: {**given, "approved_by": [name]}}

        def go(stop: threading.Event) -> Any:
            with Engine(project) as engine:
                return engine.resume(run_id, options(ctx, stop, answers=answered, actor=person))

        chain = await in_engine(go)
        return {**chain_summary(chain), "approved": True, "approved_by": [name]}

    def approval_message(run_id: str, waiting: dict[str, Any], given: dict[str, Any]) -> str:
        """What the person is asked: the step, its instructions and the answers given."""
        import json

        from gert.util import shorten

        parts = [
            f"gert asks you, not your assistant, to approve step '{waiting['step_id']}' of "
            f"run {run_id} (runbook {waiting.get('runbook') or '?'})."
        ]
        if waiting.get("instructions"):
            parts.append(shorten(str(waiting["instructions"]), 600))
        if given:
            parts.append("With these answers: " + shorten(json.dumps(given), 600))
        parts.append("Approve only if you checked it yourself; your name is recorded.")
        return redactor.text("\n\n".join(parts))

    @server.tool()
    async def resume(
        run_id: str,
        ctx: Context,
        retry_steps: list[str] | None = None,
        skip_steps: list[str] | None = None,
        in_flight: str | None = None,
    ) -> dict[str, Any]:
        """Go on with a run that was interrupted (Ctrl-C, a stopped server, a cancelled call), from its trace. For a step that was running when it stopped, say whether to run it again (retry_steps) or go on without it (skip_steps), and, if its processes still run, whether to wait for them or kill them (in_flight: wait | kill); the refusal says which is needed."""
        from gert.engine import Engine

        if in_flight not in (None, "wait", "kill"):
            raise ToolError(f"in_flight: 'wait' or 'kill', not {in_flight!r}")
        given = {
            "retry_steps": tuple(retry_steps or ()),
            "skip_steps": tuple(skip_steps or ()),
            "in_flight": in_flight,
        }

        def go(stop: threading.Event) -> Any:
            with Engine(project) as engine:
                return engine.resume(run_id, options(ctx, stop, **given))

        return chain_summary(await in_engine(go))

    @server.tool()
    def list_incidents() -> list[dict[str, Any]]:
        """Every incident gert knows, newest first, with its run count and latest chain state."""
        from gert.overview import incidents

        return shown(incidents(project))

    @server.tool()
    def show_incident(incident_id: str) -> dict[str, Any]:
        """An incident's record and every chain run for it (runbooks, states, recommendations, replay commands)."""
        from gert.overview import incident_overview

        view = incident_overview(project, incident_id)
        if view.incident is None and not view.runs:
            raise ToolError(f"no incident {incident_id} and no runs for it")
        data = view.to_dict()
        for chain in data["chains"]:
            for r in chain:
                r["folder"] = str(r["folder"]).replace(f"{root}/", "")
        return shown(data)

    @server.tool()
    def show_run(run_id: str) -> dict[str, Any]:
        """A run's steps with status, captures and errors (redacted), its outcome and inputs."""
        from gert.overview import run_view

        view = guarded(lambda: run_view(project, run_id))
        m = view.manifest
        steps = [{k: v for k, v in r.items() if k != "number"} for r in view.rows()]
        return shown(
            {
                "run_id": run_id,
                "runbook": m.get("runbook_name"),
                "status": m.get("status"),
                "outcome": m.get("outcome") or None,
                "inputs": m.get("inputs_resolved") or {},
                "steps": steps,
            }
        )

    @server.tool()
    def verify_trace(run_id: str) -> dict[str, Any]:
        """Check a run's evidence now: every trace line, step file and attachment as recorded."""
        from gert.overview import run_view

        view = guarded(lambda: run_view(project, run_id))
        return {
            "run_id": run_id,
            "ok": view.verified,
            "problems": view.problems,
            "notes": view.notes,
        }

    @server.tool()
    def triage_log(log: str) -> list[dict[str, Any]]:
        """Name the known failures a log shows (the project's *.signatures.yaml), best first, each with its runbook, replay commands and remediation."""
        from gert.signatures import find_files, load_all, match

        found = guarded(lambda: match(load_all(find_files(root)), log[:1_000_000]))
        return shown([relative(m.to_dict()) for m in found])

    @server.tool()
    def import_guide(guide: str, ctx: Context, out: str | None = None) -> dict[str, Any]:
        """Turn a Markdown guide of the project into runbooks (written under runbooks/imported/, or out), with where every line went."""
        from gert.importer import import_into

        path = inside(guide, "guide")
        target = None
        if out:
            target = root / out
            if not project.contains(target):
                raise ToolError(f"{out!r} is outside the project")
        result = guarded(lambda: import_into(path, root, target, mapping=True))
        return {
            "folder": str(result.folder.relative_to(root)) if result.folder else "",
            "files": sorted(result.files),
            "problems": result.problems,
        }

    @server.tool()
    def draft_postmortem(incident_id: str) -> dict[str, Any]:
        """A blameless postmortem of an incident as its evidence stands (Markdown; nothing written), and the phrases its blameless check flags."""
        from gert import postmortem as pmod
        from gert.incident import IncidentError

        try:
            pm = pmod.for_incident(project, incident_id)
        except IncidentError as e:
            raise ToolError(str(e)) from None
        return shown({"markdown": pmod.render(pm), "blame": list(pm.blame)})

    @server.tool()
    def run_tests(paths: list[str] | None = None) -> dict[str, Any]:
        """Replay the project's scenarios (or those of the paths given) and check their test.yaml, as gert test does."""
        from gert.testing import Tally, find_cases
        from gert.testing import run_tests as replay

        cases = guarded(lambda: find_cases([inside(p, "path") for p in paths or []], project))
        tally = Tally(list(replay(project, cases, jobs=1)))
        data = tally.to_dict()
        for s in data["scenarios"]:
            s["scenario"] = str(s["scenario"]).replace(f"{root}/", "")
            s["runbook"] = str(s["runbook"]).replace(f"{root}/", "")
        return shown(data)

    @server.resource("gert://runs/{run_id}", mime_type="application/json")
    def run_resource(run_id: str) -> str:
        """A run: manifest, step records, trace events and verification."""
        import json

        from gert.overview import run_view

        return json.dumps(shown(guarded(lambda: run_view(project, run_id)).to_dict()))

    @server.resource("gert://incidents/{incident_id}", mime_type="application/json")
    def incident_resource(incident_id: str) -> str:
        """An incident and its chains."""
        import json

        from gert.overview import incident_overview

        return json.dumps(shown(incident_overview(project, incident_id).to_dict()), default=str)

    @server.resource("gert://runbooks/{name}", mime_type="application/yaml")
    def runbook_resource(name: str) -> str:
        """A runbook, by name, as written."""
        from gert.testing import runbook_names

        path = runbook_names(project).get(name)
        if path is None:
            raise ToolError(f"no runbook named {name!r} in the project")
        return redactor.text(path.read_text(encoding="utf-8", errors="replace"))

    @server.resource("gert://scenarios/{runbook}/{name}", mime_type="application/json")
    def scenario_resource(runbook: str, name: str) -> str:
        """A saved scenario: its files (scenario.yaml, test.yaml, inputs, responses) as text."""
        import json

        folder = inside(f"{project.config.scenarios_dir}/{runbook}/{name}", "scenario")
        files = {
            str(f.relative_to(folder)): f.read_text(encoding="utf-8", errors="replace")
            for f in sorted(folder.rglob("*"))
            if f.is_file() and f.stat().st_size <= 1_000_000
        }
        return json.dumps(shown({"scenario": f"{runbook}/{name}", "files": files}))

    @server.resource("gert://postmortems/{incident_id}", mime_type="text/markdown")
    def postmortem_resource(incident_id: str) -> str:
        """An incident's postmortem: as written in postmortems/, else the draft as its
        evidence stands."""
        from gert import postmortem as pmod
        from gert.incident import IncidentError

        try:
            pm = pmod.for_incident(project, incident_id)
        except IncidentError as e:
            raise ToolError(str(e)) from None
        written = pmod.document_path(pm, root / "postmortems")
        if written.is_file():
            return redactor.text(written.read_text(encoding="utf-8", errors="replace"))
        return redactor.text(pmod.render(pm))

    @server.prompt()
    def triage_incident(incident_id: str) -> str:
        """Triage an incident with gert."""
        return (
            f"Triage incident {incident_id} with gert. Call show_incident for what is known "
            "and list_runbooks for what can run; dry_run the triage runbook with the incident "
            "before you run it; follow its chain with run_status, answer manual steps with "
            "answer_step from what you can verify, and leave approvals to people: "
            "request_approval asks the person at your client. End with the outcome and its "
            "recommendation."
        )

    @server.prompt()
    def write_postmortem(incident_id: str) -> str:
        """Write the blameless postmortem of an incident."""
        return (
            f"Write the blameless postmortem of incident {incident_id}. First ask the engineer "
            "five questions, one at a time: what the customer impact was, how it was detected, "
            "what the root cause was, what was done to mitigate it, and what will prevent it "
            "recurring. Then call draft_postmortem, fill its open sections with the answers, "
            "and restate anything its blameless check flags without blaming anyone."
        )

    for tool in server._tool_manager.list_tools():  # clients see that no other key is taken
        tool.parameters["additionalProperties"] = False
    return server


def serve(
    project: Project, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8081
) -> None:
    """Run the MCP server of *project* until its client goes away (stdio) or Ctrl-C (http)."""
    server = build(project)
    try:
        if transport == "stdio":
            server.run("stdio")
        else:
            server.run("streamable-http", host=host, port=port)
    except KeyboardInterrupt:
        pass
    finally:
        park(server)


def park(server: Any) -> None:
    """Stop the chains still running (each before its next step, recorded as
    interrupted: resume goes on with it) and wait for them, saying so."""
    running = [(stop, done) for stop, done in server.chains if not done.is_set()]
    for stop, _ in running:
        stop.set()
    if running:
        print(
            f"gert mcp: stopping; {len(running)} running chain(s) stop when their running "
            "step ends (resume goes on with them)",
            file=sys.stderr,
            flush=True,
        )
    for _, done in running:
        done.wait()
