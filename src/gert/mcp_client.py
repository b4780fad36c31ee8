"""Calling one tool of an MCP server over stdio, with the official SDK.

Used by ``tool`` steps (transport ``mcp``) and by the ``mcp`` incident provider. Each call
starts the server, initialises a session, calls the tool and stops the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gert.errors import GertError


class McpUnavailable(GertError):
    """The MCP SDK is not installed."""


class McpFailed(GertError):
    """The server could not start, crashed, timed out or spoke nonsense."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


@dataclass
class McpResult:
    """What a tool call returned: its text, its structured content, whether it failed."""

    text: str
    structured: Any
    is_error: bool


def call_tool(
    command: list[str],
    tool: str,
    arguments: dict[str, Any] | None,
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout: float = 60,
) -> McpResult:
    """Start the server, call *tool* with *arguments*, and return its answer."""
    try:
        import anyio
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
    except ImportError:
        raise McpUnavailable("MCP needs the official SDK: pip install 'gert[mcp]'") from None
    server = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=cwd)

    async def call() -> Any:
        with anyio.fail_after(timeout):
            async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool(tool, arguments or {})

    try:
        result = anyio.run(call)
    except TimeoutError:
        raise McpFailed(f"MCP call timed out after {timeout:g}s", timed_out=True) from None
    except Exception as e:  # the server could not start, crashed, or spoke nonsense
        raise McpFailed(f"MCP server error: {_first_error(e)}") from None
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    structured = getattr(result, "structuredContent", None) or getattr(
        result, "structured_content", None
    )
    is_error = bool(getattr(result, "isError", False) or getattr(result, "is_error", False))
    return McpResult(text, structured, is_error)


def _first_error(e: BaseException) -> str:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
