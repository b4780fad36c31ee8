"""The run store: one folder per run (manifest, trace, step files) and an index over them.

DESIGN §7. The folders are the truth; the index (SQLite) is rebuildable from them.
"""

from gert.store.runs import RunFolder, RunStore, new_run_id, utc_now
from gert.store.trace import TraceWriter, VerifyReport, verify_trace

__all__ = [
    "RunFolder",
    "RunStore",
    "TraceWriter",
    "VerifyReport",
    "new_run_id",
    "utc_now",
    "verify_trace",
]
