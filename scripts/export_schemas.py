"""Write schemas/runbook.schema.json and schemas/tool.schema.json from the models.

tests/test_schema.py fails when the files drift from the models; run this to update them.
"""

from __future__ import annotations

import json
from pathlib import Path

from gert.model import runbook_json_schema, tool_json_schema

ROOT = Path(__file__).resolve().parent.parent


def render(schema: dict) -> str:
    """The exact text stored in schemas/ for a schema."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    for name, schema in (("runbook", runbook_json_schema()), ("tool", tool_json_schema())):
        out = ROOT / "schemas" / f"{name}.schema.json"
        out.write_text(render(schema), encoding="utf-8")
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
