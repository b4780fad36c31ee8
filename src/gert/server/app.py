"""The application: security headers, who is asking, redaction, and the routes."""

from __future__ import annotations

import hmac
import os
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from gert.errors import InvalidError, NotFound
from gert.governance import Redactor
from gert.project import Project
from gert.server.auth import COOKIE, Caller, NotSignedIn, Tokens, bearer
from gert.version import __version__

HERE = Path(__file__).parent

# No inline script or style, nothing from elsewhere, no framing: a value that slipped
# through escaping still could not run.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class Server:
    """What every route shares: the project, its tokens and its redaction."""

    def __init__(self, project: Project, environ: dict[str, str] | None = None):
        import jinja2

        from gert.server.launcher import Launcher

        env = os.environ if environ is None else environ
        self.project = project
        self.tokens = Tokens(project.config.server, env)
        self.redactor = Redactor.from_config(project.config.redact)
        # Every value is text: escaped in every template, whatever its name.
        self.templates = Jinja2Templates(
            env=jinja2.Environment(
                loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True
            )
        )
        self.launcher = Launcher(project, project.config.server.max_runs)
        self.csrf_key = secrets.token_bytes(32)  # signs the form tokens of this process
        secret_env = project.config.server.alert_secret_env
        self.alert_secret = env[secret_env].encode() if secret_env and env.get(secret_env) else None
        key_env = project.config.hmac_key_env
        self.key = env[key_env].encode() if key_env and env.get(key_env) else None
        self._metrics: Any = None  # (registry, collector), made at the first scrape
        self._metrics_lock = threading.Lock()

    def metrics(self) -> tuple[bytes, str]:
        """The project's metrics in Prometheus' text format, and its content type."""
        from gert.metrics import exposition, registry

        with self._metrics_lock:
            if self._metrics is None:
                self._metrics = registry(self.project)
        return exposition(self._metrics[0])

    def close(self) -> None:
        """Let go of what scrapes held (a PostgreSQL connection)."""
        if self._metrics is not None:
            self._metrics[1].close()

    def caller(self, request: Request) -> Caller | None:
        """Who asks: by bearer token, else by the session the sign-in page signed."""
        token = bearer(request.headers.get("authorization"))
        if token or not self.tokens.required:
            return self.tokens.caller(token)
        name, role, signature = [*request.cookies.get(COOKIE, "").split(":"), "", "", ""][:3]
        if name and hmac.compare_digest(signature, self.session_signature(name, role)):
            return self.tokens.named(name, role)
        return None

    def session(self, caller: Caller) -> str:
        """The cookie of a signed-in browser: who, their role, and this server's signature
        (the token itself never leaves the sign-in form; a restart signs everyone out)."""
        return f"{caller.name}:{caller.role}:{self.session_signature(caller.name, caller.role)}"

    def session_signature(self, name: str, role: str) -> str:
        return hmac.new(self.csrf_key, f"session:{name}:{role}".encode(), "sha256").hexdigest()

    def shown(self, data: Any) -> Any:
        """*data* as it may be shown: redacted."""
        return self.redactor.data(data)


class SecurityHeaders:
    """Adds HEADERS to every answer. Plain ASGI: starlette's BaseHTTPMiddleware costs a
    task and a stream per request."""

    def __init__(self, app: Any):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in have]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(project: Project, environ: dict[str, str] | None = None) -> FastAPI:
    """The server of *project* (tokens read from *environ*, default the process's)."""
    from gert.server import api, intake, pages, postmortems, runbooks, scenarios

    server = Server(project, environ)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio

        await anyio.to_thread.run_sync(server.launcher.resume_parked)
        yield
        # running chains park before their next step (resumed by the next server)
        await anyio.to_thread.run_sync(server.launcher.close)
        server.close()

    app = FastAPI(
        lifespan=lifespan,
        title="gert",
        version=__version__,
        description="Incidents, chains and runs of a gert project.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.server = server

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):  # one shape for every API error
            return JSONResponse(
                {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
            )
        return server.templates.TemplateResponse(
            request,
            "error.html",
            {"title": "Cannot do that", "message": str(exc.detail)},
            status_code=exc.status_code,
        )

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        # the project's own folders are named relative to it: no absolute paths shown
        message = server.redactor.text(str(exc).replace(f"{project.root}/", ""))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=404)
        return server.templates.TemplateResponse(
            request, "error.html", {"title": "Not found", "message": message}, status_code=404
        )

    @app.exception_handler(InvalidError)
    async def invalid(request: Request, exc: InvalidError) -> Response:
        message = server.redactor.text(str(exc))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=400)
        return server.templates.TemplateResponse(
            request, "error.html", {"title": "Cannot do that", "message": message}, status_code=400
        )

    @app.exception_handler(NotSignedIn)
    async def sign_in_first(request: Request, exc: NotSignedIn) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus metrics: any token the server accepts (a viewer's will do); none
        without tokens, as every page (the server then listens on loopback only)."""
        if server.caller(request) is None:
            return PlainTextResponse(
                "a token is required: Authorization: Bearer TOKEN\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        body, content_type = server.metrics()
        return Response(body, media_type=content_type)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(intake.router)
    app.include_router(pages.router)
    app.include_router(runbooks.router)
    app.include_router(postmortems.router)
    app.include_router(scenarios.router)
    return app
