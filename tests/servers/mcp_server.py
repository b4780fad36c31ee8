"""An MCP server over stdio built with the official SDK, for the tests."""

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("gert-test-tools")


@server.tool()
def get_incident(id: str) -> dict:
    """An incident as an incident system would return it."""
    if id == "missing":
        raise ToolError(f"no incident {id}")
    return {"id": id, "title": f"Incident {id}", "severity": 2, "status": "active"}


@server.tool()
def count_nodes(cluster: str) -> str:
    """A plain-text answer."""
    return f"cluster {cluster}: 3 nodes"


if __name__ == "__main__":
    server.run("stdio")
