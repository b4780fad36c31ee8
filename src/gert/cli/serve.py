"""``gert serve``: the project over HTTP (pages, JSON API) for the whole team."""

from __future__ import annotations

import ipaddress
import socket

import click

from gert.errors import EXIT_INVALID

STREAMS_GRACE = 3  # seconds open event streams get to end when the server stops
LOG = "gert.serve"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command(short_help="Serve the project's incidents and runs over HTTP.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "text"]),
    default="auto",
    show_default=True,
    help="Logs on stderr: JSON lines, text, or auto (text on a terminal, else JSON).",
)
def serve(host: str, port: int, log_format: str) -> None:
    """Serve the project's incidents, chains and runs: pages for people, a JSON API under
    /api/v1 (OpenAPI at /api/v1/openapi.json) for programs, Prometheus metrics at /metrics.

    Without tokens in gert.yaml (server.tokens) the server is read-only and listens on the
    loopback interface only; with them, every request names a token.
    """
    from gert.logs import log_event, setup_logging, uvicorn_log_config, wants_json

    json_lines = wants_json(None if log_format == "auto" else log_format == "json")
    setup_logging(json_lines)
    try:
        import uvicorn

        from gert.server import create_app
    except ImportError:
        raise click.ClickException(
            "gert serve needs the server extra: pip install 'gert[server]'"
        ) from None
    from gert.errors import GertError
    from gert.logs import use_redactor
    from gert.project import open_project

    try:
        project = open_project()
        app = create_app(project)
    except GertError as e:
        if not json_lines:
            raise
        log_event(LOG, str(e), level="error", event="refused", exit_code=e.exit_code)
        raise SystemExit(e.exit_code) from None
    server = app.state.server
    use_redactor(server.redactor)  # the project's redaction rules, in logs too
    tokens = server.tokens
    if not tokens.required and not _loopback(host):
        log_event(
            LOG,
            f"refusing to listen on {host} without tokens: anyone who can reach it "
            "would read every run; add server.tokens to gert.yaml, or listen on 127.0.0.1",
            level="error",
            event="refused",
        )
        raise SystemExit(EXIT_INVALID)
    for missing in tokens.missing:
        log_event(LOG, f"token {missing}: it admits nobody", level="warning", event="set_up")
    for warning in startup_warnings(project):
        log_event(LOG, warning, level="warning", event="set_up")
    try:  # said in gert's words, before claiming to serve
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as e:
        log_event(
            LOG,
            f"cannot listen on {host}:{port}: {e.strerror or e}",
            level="error",
            event="refused",
        )
        raise SystemExit(EXIT_INVALID) from None
    mode = "tokens required" if tokens.required else "read-only, no tokens configured"
    address = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    backend = project.config.store.backend
    log_event(
        LOG,
        f"gert serve: {address} ({mode}; store: {backend}); Ctrl-C stops it",
        event="serving",
        address=address,
        store=backend,
        tokens=tokens.required,
        max_runs=project.config.server.max_runs,
    )
    # Live pages hold their event streams open: on Ctrl-C they get a few seconds to end,
    # then are cut (running chains park at their next step either way). In JSON mode
    # uvicorn's own lines (start-up, each request) come out as JSON lines too.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=uvicorn_log_config(json_lines),
        log_level="info" if json_lines else "warning",
        access_log=json_lines,
        timeout_graceful_shutdown=STREAMS_GRACE,
    )


def startup_warnings(project: object) -> list[str]:
    """What in gert.yaml's server set-up will not work as written: routes to runbooks
    that are not there, an alert secret whose variable is not set."""
    import os

    config = project.config  # type: ignore[attr-defined]
    out = []
    for n, route in enumerate(config.routes):
        path = project.root / route.runbook  # type: ignore[attr-defined]
        if not project.contains(path) or not path.is_file():  # type: ignore[attr-defined]
            out.append(
                f"routes[{n}]: no runbook {route.runbook} in the project; alerts it matches will start nothing"
            )
    env = config.server.alert_secret_env
    if env and not os.environ.get(env):
        out.append(f"server.alert_secret_env: ${env} is not set; signed alerts will be refused")
    return out


COMMANDS = (serve,)
