"""``gert serve``: the project over HTTP (pages, JSON API) for the whole team."""

from __future__ import annotations

import ipaddress
import socket

import click

from gert.errors import EXIT_INVALID

STREAMS_GRACE = 3  # seconds open event streams get to end when the server stops


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
def serve(host: str, port: int) -> None:
    """Serve the project's incidents, chains and runs: pages for people, a JSON API under
    /api/v1 (OpenAPI at /api/v1/openapi.json) for programs.

    Without tokens in gert.yaml (server.tokens) the server is read-only and listens on the
    loopback interface only; with them, every request names a token.
    """
    try:
        import uvicorn

        from gert.server import create_app
    except ImportError:
        raise click.ClickException(
            "gert serve needs the server extra: pip install 'gert[server]'"
        ) from None
    from gert.project import open_project

    project = open_project()
    app = create_app(project)
    tokens = app.state.server.tokens
    if not tokens.required and not _loopback(host):
        click.echo(
            f"error: refusing to listen on {host} without tokens: anyone who can reach it "
            "would read every run; add server.tokens to gert.yaml, or listen on 127.0.0.1",
            err=True,
        )
        raise SystemExit(EXIT_INVALID)
    for missing in tokens.missing:
        click.echo(f"warning: token {missing}: it admits nobody", err=True)
    for warning in startup_warnings(project):
        click.echo(f"warning: {warning}", err=True)
    try:  # said in gert's words, before claiming to serve
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as e:
        click.echo(f"error: cannot listen on {host}:{port}: {e.strerror or e}", err=True)
        raise SystemExit(EXIT_INVALID) from None
    mode = "tokens required" if tokens.required else "read-only, no tokens configured"
    click.echo(f"gert serve: http://{host}:{port}/ ({mode}); Ctrl-C stops it", err=True)
    # Live pages hold their event streams open: on Ctrl-C they get a few seconds to end,
    # then are cut (running chains park at their next step either way).
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
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
