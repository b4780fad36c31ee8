"""``gert mcp``: the project to an AI assistant over the Model Context Protocol."""

from __future__ import annotations

import click


@click.command(short_help="Serve the project to an AI assistant over MCP.")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio for a client that starts gert; http (streamable HTTP) to listen.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="With http: the interface.")
@click.option("--port", default=8081, show_default=True, type=click.IntRange(1, 65535))
def mcp(transport: str, host: str, port: int) -> None:
    """Serve the project's runbooks, runs, incidents and postmortems to an assistant: tools
    (list, validate, dry-run, run, answer a manual step, show, verify, triage, import,
    draft a postmortem, test), resources and prompts. Actions are recorded as
    assistant:<client>; approvals stay with people.
    """
    try:
        from gert.mcp_server import serve
    except ImportError:
        raise click.ClickException(
            "gert mcp needs the mcp extra: pip install 'gert[mcp]'"
        ) from None
    from gert.project import open_project

    serve(open_project(), "stdio" if transport == "stdio" else "http", host, port)


COMMANDS = (mcp,)
