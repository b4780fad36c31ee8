"""``gert serve``: the project's incidents, chains and runs over HTTP, for the whole team.

A surface, like the command line: a FastAPI application over the library (nothing here
runs a step itself). Pages are rendered on the server (Jinja2, autoescaped, no inline
script, a strict Content-Security-Policy); the JSON API lives under ``/api/v1`` with its
OpenAPI document at ``/api/v1/openapi.json``. Everything shown goes through the project's
redaction first. Tokens and roles: :mod:`gert.server.auth`.
"""

from __future__ import annotations

from gert.server.app import create_app

__all__ = ["create_app"]
