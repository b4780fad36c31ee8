"""Calling tools of an MCP server over stdio, with the official SDK.

Used by ``tool`` steps (transport ``mcp``) and by the ``mcp`` incident provider.
:func:`call_tool` starts the server for one call; :class:`McpSession` keeps one server and
session open for many calls (a run's tool steps), on an event loop in its own thread.
"""

from __future__ import annotations

import contextlib
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
    return _result(result)


def _result(result: Any) -> McpResult:
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    structured = getattr(result, "structuredContent", None) or getattr(
        result, "structured_content", None
    )
    is_error = bool(getattr(result, "isError", False) or getattr(result, "is_error", False))
    return McpResult(text, structured, is_error)


class McpSession:
    """One MCP server and its initialised session, kept open for many tool calls (the
    first call starts it; a server that died is started again once; :meth:`close` stops
    it)."""

    def __init__(
        self,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ):
        self.command, self.env, self.cwd = command, env, cwd
        self._portal_cm: Any = None
        self._portal: Any = None
        self._session_cm: Any = None
        self._session: Any = None

    def _open(self, timeout: float) -> None:
        try:
            import anyio
            from anyio.from_thread import start_blocking_portal
            from mcp import ClientSession, StdioServerParameters
            from mcp.client.stdio import stdio_client
        except ImportError:
            raise McpUnavailable("MCP needs the official SDK: pip install 'gert[mcp]'") from None
        from contextlib import asynccontextmanager

        server = StdioServerParameters(
            command=self.command[0], args=self.command[1:], env=self.env, cwd=self.cwd
        )

        @asynccontextmanager
        async def session() -> Any:
            async with stdio_client(server) as (read, write), ClientSession(read, write) as s:
                with anyio.fail_after(timeout):
                    await s.initialize()
                yield s

        self._portal_cm = start_blocking_portal()
        self._portal = portal = self._portal_cm.__enter__()
        try:
            self._session_cm = portal.wrap_async_context_manager(session())
            self._session = self._session_cm.__enter__()
        except BaseException:
            self.close()
            raise

    def call(self, tool: str, arguments: dict[str, Any] | None, timeout: float = 60) -> McpResult:
        """Call *tool*; McpFailed when the server cannot start, dies or times out (the
        session is then closed, and the next call starts a new one)."""
        for attempt in (1, 2):
            fresh = self._session is None
            try:
                if fresh:
                    self._open(timeout)
                return _result(self._call(tool, arguments, timeout))
            except McpUnavailable:
                raise
            except TimeoutError:
                self.close()
                raise McpFailed(f"MCP call timed out after {timeout:g}s", timed_out=True) from None
            except Exception as e:  # the server could not start, crashed, or spoke nonsense
                self.close()
                if fresh or attempt == 2:
                    raise McpFailed(f"MCP server error: {_first_error(e)}") from None
        raise McpFailed("MCP server error: no session")  # pragma: no cover - loop returns

    def _call(self, tool: str, arguments: dict[str, Any] | None, timeout: float) -> Any:
        import anyio

        session = self._session

        async def go() -> Any:
            with anyio.fail_after(timeout):
                return await session.call_tool(tool, arguments or {})

        return self._portal.call(go)

    def close(self) -> None:
        """Stop the server and the session's thread (quietly: it may already be gone)."""
        session_cm, portal_cm = self._session_cm, self._portal_cm
        self._session_cm = self._portal_cm = self._session = self._portal = None
        for cm in (session_cm, portal_cm):
            if cm is not None:
                with contextlib.suppress(Exception):  # a dead server has nothing to close
                    cm.__exit__(None, None, None)


def _first_error(e: BaseException) -> str:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
