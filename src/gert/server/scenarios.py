"""Scenarios: every scenario of the project, and one replayed from the page beside what
was recorded (a replay keeps no evidence and contacts nothing)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gert.server.pages import REFUSED, Who, _posted, _with_form

router = APIRouter(include_in_schema=False)


def _case(project: Any, path: str) -> Any:
    """The scenario folder *path* of the project, prepared; NotFound when there is none."""
    from gert.errors import NotFound
    from gert.testing import find_cases, prepare, runbook_names

    folder = project.root / path
    if not path or "\0" in path or not project.contains(folder) or not folder.is_dir():
        raise NotFound(f"no scenario {path[:200]} in the project")
    cases = find_cases([folder], project)
    if len(cases) != 1:
        raise NotFound(f"{path[:200]} is not one scenario folder")
    return prepare(cases[0], project, runbook_names(project))


def _recorded(case: Any) -> list[dict[str, Any]]:
    """The chain a recorded scenario holds, as scenario.yaml lists it."""
    data = case.manifest.data if case.manifest is not None else None
    chain = data.get("chain") if isinstance(data, dict) else None
    return [
        {"runbook": str(c.get("runbook", "")), "state": str(c.get("outcome", ""))}
        for c in chain or []
        if isinstance(c, dict)
    ]


@router.get("/scenarios", response_class=HTMLResponse)
def scenarios_page(request: Request, who: Who) -> HTMLResponse:
    """Every scenario of the project: recorded or hand-written, tested or not."""
    from gert.testing import find_cases, prepare, runbook_names

    project = request.app.state.server.project
    names = runbook_names(project)
    rows = []
    for case in find_cases([], project):
        prepare(case, project, names)
        rows.append(
            {
                "path": str(case.folder.relative_to(project.root)),
                "runbook": str(case.runbook.relative_to(project.root)) if case.runbook else "",
                "recorded": bool(_recorded(case)),
                "tested": case.test is not None,
                "error": case.error or "",
            }
        )
    return _with_form(request, "scenarios.html", who, title="Scenarios", scenarios=rows)


@router.get("/scenario", response_class=HTMLResponse)
def scenario_page(request: Request, who: Who, path: str = "") -> HTMLResponse:
    """One scenario: what was recorded, and a button that replays it."""
    project = request.app.state.server.project
    case = _case(project, path)
    return _scenario(request, who, path, case, None)


def _scenario(request: Request, who: Any, path: str, case: Any, replay: Any) -> HTMLResponse:
    project = request.app.state.server.project
    text = case.manifest.text if case.manifest is not None else ""
    return _with_form(
        request,
        "scenario.html",
        who,
        title=f"Scenario {path}",
        path=path,
        runbook=str(case.runbook.relative_to(project.root)) if case.runbook else "",
        recorded=_recorded(case),
        manifest_text=text[:20_000],
        error=case.error or "",
        replay=replay,
        may_replay=who.may("operator"),
    )


@router.post("/scenario/replay")
async def replay(request: Request, who: Who) -> Response:
    """Replay a scenario as ``gert test`` does, and show it beside the recording."""
    import anyio

    form = await _posted(request)
    if form is None:
        return HTMLResponse(REFUSED, status_code=403)
    if not who.may("operator"):
        return HTMLResponse(
            f"refused: {who.name} is a {who.role}; replaying needs an operator", status_code=403
        )
    project = request.app.state.server.project
    path = form.get("path", "")
    case = _case(project, path)

    def run() -> dict[str, Any]:
        import dataclasses

        from gert.testing import Runner, TestSpec

        runner = Runner(project)
        try:
            result = runner.run(dataclasses.replace(case, test=case.test or TestSpec()))
        finally:
            runner.close()
        runs = []
        for r in result.observed.get("runs", []):
            runs.append(
                {
                    "runbook": r.runbook,
                    "state": r.state,
                    "captures": dict(r.captures),
                    "steps": [{"step_id": s.step_id, "status": s.status} for s in r.steps],
                }
            )
        return {"status": result.status, "failures": result.failures, "runs": runs}

    outcome = await anyio.to_thread.run_sync(run)
    return _scenario(request, who, path, _case(project, path), outcome)
