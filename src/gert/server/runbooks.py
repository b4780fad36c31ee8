"""The project's runbooks: each with its kind, inputs and validation, its diagram, and
the scenarios that test it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gert.server.pages import Who, _page

router = APIRouter(include_in_schema=False)


@router.get("/runbooks", response_class=HTMLResponse)
def runbooks_page(request: Request, who: Who, incident: str = "") -> HTMLResponse:
    """Every runbook of the project; with ?incident=ID, each links to its start page."""
    import re

    from gert.catalog import list_runbooks

    project = request.app.state.server.project
    root = project.real_root
    entries = []
    for e in list_runbooks(project=project):
        entry = e.to_dict()
        entry["rel"] = str(e.path.resolve().relative_to(root))
        entries.append(entry)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", incident):
        incident = ""
    return _page(
        request, "runbooks.html", who, title="Runbooks", runbooks=entries, incident=incident
    )


@router.get("/runbook", response_class=HTMLResponse)
def runbook_page(
    request: Request, who: Who, path: str = "", coverage: bool = False
) -> HTMLResponse:
    """One runbook: description, inputs, problems, its diagram (drawn as text, and as
    Mermaid to paste), and its scenarios."""
    from gert.diagram import build, to_ascii, to_mermaid
    from gert.errors import NotFound
    from gert.testing import find_cases, prepare, runbook_names
    from gert.validate import Validator

    project = request.app.state.server.project
    file = project.root / path
    if not path or "\0" in path or not project.contains(file) or not file.is_file():
        raise NotFound(f"no runbook {path[:200]} in the project")
    checked = Validator(project).check(file, expect="runbook")
    problems = [p.format() for p in checked.problems]
    model = checked.model if checked.ok else None
    drawing = mermaid = ""
    scenarios = []
    covered = None
    if model is not None:
        graph = build(model, file, project_root=project.root)
        drawing, mermaid = to_ascii(graph), to_mermaid(graph)
        names = runbook_names(project)
        cases = find_cases([file], project)
        if coverage and cases:  # replays every scenario of the runbook: asked for, not by default
            from gert.testing import coverage as measure

            report = measure(project, cases)
            mine = next((c for c in report.runbooks if c.path.resolve() == file.resolve()), None)
            covered = mine.to_dict() if mine else None
        for case in cases:
            prepare(case, project, names)
            scenarios.append(
                {
                    "name": str(case.folder.relative_to(project.root)),
                    "tested": case.test is not None,
                    "error": case.error or "",
                }
            )
    return _page(
        request,
        "runbook.html",
        who,
        title=model.meta.name if model else path,
        path=path,
        meta=model.meta.model_dump(mode="json", by_alias=True, exclude_none=True) if model else {},
        problems=problems,
        drawing=drawing,
        mermaid=mermaid,
        scenarios=scenarios,
        coverage=covered,
    )
