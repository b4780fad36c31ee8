"""An incident's postmortem: the draft as it stands, drawn and rendered, its HTML and PDF
downloads, and writing it to the project (as ``gert postmortem`` does)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gert.server.pages import REFUSED, IncidentId, Who, _posted, _with_form

router = APIRouter(include_in_schema=False)


def _draft(server: Any, incident_id: str) -> tuple[Any, str]:
    """The postmortem of an incident as its evidence stands now, and its Markdown."""
    from gert import postmortem as pmod
    from gert.errors import NotFound
    from gert.incident import IncidentError

    try:
        pm = pmod.for_incident(server.project, incident_id)
    except IncidentError as e:
        raise NotFound(f"incident {incident_id}: {e}") from None
    return pm, server.redactor.text(pmod.render(pm))


@router.get("/incidents/{incident_id}/postmortem", response_class=HTMLResponse)
def postmortem_page(
    request: Request, who: Who, incident_id: IncidentId, wrote: str = ""
) -> HTMLResponse:
    """The draft, with the run chain drawn; downloads; a button that writes it."""
    from gert import postmortem as pmod

    server = request.app.state.server
    pm, markdown = _draft(server, incident_id)
    return _with_form(
        request,
        "postmortem.html",
        who,
        title=f"Postmortem of {incident_id}",
        incident_id=incident_id,
        # markdown-it with raw HTML and images off: the body holds no markup of its own;
        # the drawing escapes every value. Both are marked safe for the template.
        body=pmod.body_html(markdown),
        figure=pmod.chain_svg(pm) if pm.runs else "",
        blame=list(pm.blame),
        may_write=who.may("operator"),
        wrote=wrote[:300],
    )


@router.get("/incidents/{incident_id}/postmortem.html")
def postmortem_html(request: Request, who: Who, incident_id: IncidentId) -> Response:
    """The standalone HTML document, as a download."""
    from gert import postmortem as pmod

    pm, markdown = _draft(request.app.state.server, incident_id)
    return Response(
        pmod.to_html(pm, markdown),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="postmortem-{incident_id}.html"'},
    )


@router.get("/incidents/{incident_id}/postmortem.pdf")
def postmortem_pdf(request: Request, who: Who, incident_id: IncidentId) -> Response:
    """The PDF, as a download."""
    from gert import postmortem as pmod
    from gert.errors import InvalidError

    pm, markdown = _draft(request.app.state.server, incident_id)
    try:
        data = pmod.to_pdf(pm, markdown)
    except pmod.RenderError as e:
        raise InvalidError(str(e)) from None
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="postmortem-{incident_id}.pdf"'},
    )


@router.post("/incidents/{incident_id}/postmortem")
async def write_postmortem(request: Request, who: Who, incident_id: IncidentId) -> Response:
    """Write the draft into the project (postmortems/, the tracking table), keeping what
    a person wrote in the sections gert cannot fill: an operator's button."""
    import anyio

    from gert import postmortem as pmod

    if await _posted(request) is None:
        return HTMLResponse(REFUSED, status_code=403)
    if not who.may("operator"):
        return HTMLResponse(
            f"refused: {who.name} is a {who.role}; writing needs an operator", status_code=403
        )
    server = request.app.state.server

    def write() -> str:
        pm, _ = _draft(server, incident_id)
        root = server.project.root
        path, _kept = pmod.write(
            pm, pmod.render(pm), root / "postmortems", root / "POST_MORTEM_TRACKING.md"
        )
        pmod.write_renderings(pm, path, ("html",))
        return str(path.relative_to(root))

    wrote = await anyio.to_thread.run_sync(write)
    return RedirectResponse(f"/incidents/{incident_id}/postmortem?wrote={wrote}", status_code=303)
