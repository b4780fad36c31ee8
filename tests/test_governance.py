"""Policy merging and redaction (gert.governance)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gert.governance import Policy, Redactor


def gov(allowed=None, denied=(), deny_env=()):  # type: ignore[no-untyped-def]
    return SimpleNamespace(
        allowed_commands=allowed, denied_commands=list(denied), deny_env_vars=list(deny_env)
    )


def test_policies_intersect_and_deny_wins():
    p = Policy.merge(
        gov(allowed=["kubectl", "curl", "rm"]), gov(allowed=["kubectl", "rm"], denied=["rm"])
    )
    assert p.blocked("kubectl") is None
    assert "not in allowed_commands" in p.blocked("curl")
    assert "denied_commands" in p.blocked("/bin/rm")
    assert Policy.merge(None, gov(denied=["dd"])).blocked("anything") is None


def test_child_env_drops_denied_globs():
    p = Policy.merge(gov(deny_env=["*_SECRET", "AWS_*"]))
    env = p.child_env({"A_SECRET": "x", "AWS_KEY": "y", "HOME": "/root"}, {"EXTRA": "1"})
    assert env == {"HOME": "/root", "EXTRA": "1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer ***"),
        ("password=hunter2 user=bob", "password=*** user=bob"),
        ('{"api_key": "k-123"}', '{"api_key": "***"}'),
        ("token: t0k3n", "token: ***"),
        ("key AKIAABCDEFGHIJKLMNOP here", "key *** here"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "***"),
        ("nothing secret in here at all", "nothing secret in here at all"),
    ],
)
def test_default_patterns(text, expected):
    assert Redactor().text(text) == expected


def test_rules_and_exact_secrets_apply_to_nested_data():
    r = Redactor(
        [("sk-[a-z]{4}", "sk-***")], secrets=["tok-12345", "ab"]
    )  # too-short secrets are ignored
    data = {"cmd": ["echo", "tok-12345"], "out": "key sk-abcd and ab", "n": 3, "tok-12345": True}
    assert r.data(data) == {"cmd": ["echo", "***"], "out": "key sk-*** and ab", "n": 3, "***": True}
    r.add_secret("later-secret")
    assert r.text("a later-secret b") == "a *** b"


def test_a_value_that_becomes_an_option_is_refused(project):
    # An incident title "... order=--output=pwned.txt" must not become sort's --output.
    project.write(
        "inj.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: inj, kind: composable, inputs: {order: {default: "--output=pwned.txt"}}}
        steps:
          - {id: sorted, type: cli, continue_on_fail: true, with: {argv: [sort, "{{ .order }}", data.txt]}}
          - {id: as_value, type: cli, with: {argv: [sort, "--key={{ .order }}", data.txt]}, continue_on_fail: true}
          - {id: allowed, type: cli, with: {argv: [echo, "{{ .order }}"], allow_option_values: true}, capture: {o: stdout}}
        """,
    )
    (project.root / "data.txt").write_text("b\na\n")
    run = project.run("inj.runbook.yaml").final
    steps = {s.step_id: s for s in run.steps}
    assert steps["sorted"].status == "failed"
    assert "would read as an option" in steps["sorted"].error
    assert not (project.root / "pwned.txt").exists()
    assert (
        steps["as_value"].error is None or "would read as an option" not in steps["as_value"].error
    )
    assert run.captures["o"] == "--output=pwned.txt"
