"""A new project to start from (``gert init``): a commented ``gert.yaml``, one small
triage runbook, and two scenarios with tests, so that ``gert validate``, ``gert exec`` and
``gert test`` work at once.

Nothing is ever overwritten: when one of the files exists, nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from gert.errors import InvalidError

RUNBOOK = "runbooks/disk-space.runbook.yaml"

GERT_YAML = """\
# gert project configuration. Every field is optional; paths are relative to this folder.
# `gert validate .` checks this file with the runbooks.

runs_dir: .runbook/runs          # the evidence of every run (keep .runbook/ out of git)
scenarios_dir: scenarios         # saved runs and hand-written scenarios; `gert test` replays them
record: auto                     # auto: save each real run as a scenario; off: never
max_chain_depth: 5               # how many next_runbook hand-offs one chain may take
tools_path: [tools]              # where a runbook's `tools: [name]` finds name.tool.yaml
step_timeout: 1h                 # a cli step without a timeout of its own is stopped after this
# store: {backend: postgresql}   # runs in PostgreSQL (URL in GERT_DATABASE_URL), for a team
# queue: {broker_url_env: GERT_BROKER_URL}   # chains on gert worker processes (docs/scaling.md)

incident:
  provider: local                # incidents kept in this project (gert incident create ...);
                                 # webhook, pagerduty, jira, github, servicenow or mcp instead
  post: auto                     # post each chain's summary to its incident's timeline

governance:                      # applies to every runbook (a runbook's own policy narrows it)
  denied_commands: [rm, mkfs, dd, shutdown, reboot]
  deny_env_vars: ["*_TOKEN", "*_SECRET", "*_PASSWORD"]   # never passed to commands

redact:                          # blanked in everything gert writes or shows
  - {pattern: 'Password=[^;\\s]+', replace: 'Password=***'}
"""

DISK_SPACE = """\
# A triage runbook: run a command, capture a value from what it prints, pick an outcome.
#   gert exec runbooks/disk-space.runbook.yaml                   run it here
#   gert exec runbooks/disk-space.runbook.yaml --var mount=/var  another filesystem
#   gert exec runbooks/disk-space.runbook.yaml --mode dry-run    see what it would run
#   gert diagram runbooks/disk-space.runbook.yaml --format ascii
# Editors check runbooks as you type with the schema: gert schema runbook > runbook.schema.json
apiVersion: runbook/v0
meta:
  name: disk-space
  kind: mitigation
  description: Is a filesystem filling up?
  inputs:
    mount:
      description: The filesystem to check
      default: /
tree:
  - step:
      id: check_usage
      type: cli
      title: How full is the filesystem?
      with:
        argv: [df, -P, "{{ .mount }}"]
      capture:
        used_percent: {from: stdout, pattern: '(\\d+)%'}
      outcomes:
        - when: used_percent < 90
          state: no_action
          recommendation: "{{ .mount }} is {{ .used_percent }}% full; nothing to do."
        - state: escalated
          recommendation: "{{ .mount }} is {{ .used_percent }}% full: free space or grow the volume."
"""


def _scenario(description: str, percent: int) -> str:
    used = 10_000_000 * percent // 100
    return (
        f"# {description}\n"
        "# Replayed by `gert test`: the command is not run, its recorded output is used.\n"
        f"description: {description}\n"
        "commands:                 # cli steps' output, matched by the rendered argv\n"
        "  - argv: [df, -P, /]\n"
        "    stdout: |\n"
        "      Filesystem     1024-blocks     Used Available Capacity Mounted on\n"
        f"      /dev/sda1         10000000 {used:8d} {10_000_000 - used:9d}      {percent}% /\n"
        "    exit_code: 0\n"
    )


def _test(state: str, percent: int) -> str:
    return (
        "# What the replay must show (`gert test --update` rewrites this from a replay).\n"
        f"expected_outcome: {state}\n"
        "expected_captures:\n"
        f'  used_percent: "{percent}"\n'
        "expected_step_status: {check_usage: passed}\n"
    )


FILES: dict[str, str] = {
    "gert.yaml": GERT_YAML,
    ".gitignore": "# gert's run evidence and index: kept here, not in git\n.runbook/\n",
    RUNBOOK: DISK_SPACE,
    "scenarios/disk-space/plenty-of-space/inputs.yaml": "mount: /\n",
    "scenarios/disk-space/plenty-of-space/scenario.yaml": _scenario(
        "The filesystem is 42% full, so nothing is to be done.", 42
    ),
    "scenarios/disk-space/plenty-of-space/test.yaml": _test("no_action", 42),
    "scenarios/disk-space/almost-full/inputs.yaml": "mount: /\n",
    "scenarios/disk-space/almost-full/scenario.yaml": _scenario(
        "The filesystem is 97% full and the runbook escalates.", 97
    ),
    "scenarios/disk-space/almost-full/test.yaml": _test("escalated", 97),
}


class WouldOverwrite(InvalidError):
    """``gert init`` was pointed at files that exist already (exit 2)."""


def init_project(root: str | Path) -> list[Path]:
    """Write a new project into *root* (created if need be); returns the files written.

    Raises :class:`WouldOverwrite` naming every file that exists already; then nothing
    is written.
    """
    base = Path(root)
    there = [rel for rel in FILES if (base / rel).exists()]
    if there:
        raise WouldOverwrite(
            f"{base}: {', '.join(there)} already exist{'s' * (len(there) == 1)}; gert init "
            "never overwrites, so nothing was written (choose an empty folder: gert init DIR)"
        )
    written = []
    for rel, text in FILES.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:  # "x": fails rather than overwrite
            f.write(text)
        written.append(path)
    return written
