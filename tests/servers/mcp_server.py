"""An MCP server over stdio built with the official SDK, for the tests."""

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("gert-test-tools")


@server.tool()
def get_incident(id: str) -> dict:
    """An incident as an incident system would return it."""
    if id == "missing":
        raise ToolError(f"no incident {id}")
    return {
        "id": id,
        "title": f"Incident {id}. LoginFailureCause: Throttled",
        "severity": 2,
        "status": "active",
        "custom_fields": {"ServerName": "sql-mcp"},
    }


@server.tool()
def count_nodes(cluster: str) -> str:
    """A plain-text answer."""
    return f"cluster {cluster}: 3 nodes"


@server.tool()
def add_discussion_entry(incident_id: str, text: str) -> dict:
    """Append an entry to the incident's discussion (kept in $MCP_STORE for the tests)."""
    import json
    import os
    from pathlib import Path

    store = Path(os.environ["MCP_STORE"])
    entries = json.loads(store.read_text()) if store.exists() else []
    entries.append({"incident_id": incident_id, "text": text})
    store.write_text(json.dumps(entries))
    return {"id": f"D{len(entries)}"}


if __name__ == "__main__":
    server.run("stdio")
