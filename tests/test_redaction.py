"""Secrets stay secret: the built-in patterns cover the common
credential forms, known secrets are redacted in every encoding, a secret cut short at the
end of an excerpt leaves no prefix, and ordinary text is left alone."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gert.governance import Redactor

FORMS = {
    '{"access_token": "tok-aaaa1111bbbb"}': "tok-aaaa1111bbbb",
    "refresh_token=rt-aaaa1111bbbb": "rt-aaaa1111bbbb",
    "client_secret=cs-aaaa1111bbbb": "cs-aaaa1111bbbb",
    "DB_PASSWORD=hunter2hunter2": "hunter2hunter2",
    "aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY": "wJalrXUtnFEMIK7MDENG",
    "secret_key=sk_live_aaaa1111": "sk_live_aaaa1111",
    "private_key: pk-aaaa1111bbbb": "pk-aaaa1111bbbb",
    "password: p4ssw0rd-x": "p4ssw0rd-x",
    "API_TOKEN=Zq9SECRETVALUE7731xy": "Zq9SECRETVALUE7731xy",
    "x-api-key: key-aaaa1111bbbb": "key-aaaa1111bbbb",
    "Bearer tok-from-login-12345": "tok-from-login-12345",
    "Authorization: Bearer abc.def.ghi-123456": "abc.def.ghi-123456",
    "Authorization: Basic dXNlcjpwYXNzd29yZA==": "dXNlcjpwYXNzd29yZA==",
    "Cookie: session=abcdef123456; theme=dark": "session=abcdef123456",
    "Set-Cookie: sid=s3ss10n-value; HttpOnly": "sid=s3ss10n-value",
    "postgresql://gert:pg-pw-12345@db.example:5432/app": "pg-pw-12345",
    "https://user:web-pw-12345@example.com/x": "web-pw-12345",
    "ghp_AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIII": "ghp_AAAABBBBCCCCDDDDEEEE",
    "gho_AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIII": "gho_AAAABBBBCCCCDDDDEEEE",
    "xoxb-1234567890-abcdefghij": "xoxb-1234567890",
    "sk-proj-AAAABBBBCCCCDDDD1234": "sk-proj-AAAABBBBCCCCDDDD",
    "AKIAIOSFODNN7EXAMPLE": "AKIAIOSFODNN7EXAMPLE",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U": "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    "mysql --password s3cr3t-pass db": "s3cr3t-pass",
    "mysql -u root -pGlu3d-pass db": "Glu3d-pass",
    "mariadb-dump -h db1 -pMar1a-pass app": "Mar1a-pass",
    "tool --token=t0k-aaaa1111": "t0k-aaaa1111",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----": "MIIEow",
}


@pytest.mark.parametrize("text", sorted(FORMS))
def test_builtin_patterns_cover_common_credential_forms(text):
    assert FORMS[text] not in Redactor().text(text)


@pytest.mark.parametrize(
    "text",
    [
        "GET /api/login 500 in 42 ms",
        "tokens processed: 42",
        "keyboard layout: us",
        "the password policy was updated",
        "see https://example.com/docs/passwords",
        "ran kubectl get pods -n prod",
        "failure_count=42 top_error=40613",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert Redactor().text(text) == text


SECRET = 'p@ss/w"rd\\x-SEC2pw'


@pytest.mark.parametrize(
    "encoded",
    [
        SECRET,
        json.dumps({"v": SECRET}),
        quote(SECRET, safe=""),
        base64.b64encode(SECRET.encode()).decode(),
        SECRET.upper(),
        SECRET.lower(),
        SECRET.encode().hex(),
    ],
)
def test_a_known_secret_is_redacted_in_every_encoding(encoded):
    out = Redactor(secrets=[SECRET]).text(f"value: {encoded} end")
    assert "***" in out
    for form in (SECRET, "SEC2pw", base64.b64encode(SECRET.encode()).decode()[:12]):
        assert form not in out


def test_a_secret_cut_short_leaves_no_prefix():
    r = Redactor(secrets=["Zq9SECRETVALUE7731xy"])
    assert r.text("output ... token Zq9SECRE") == "output ... token ***"
    assert r.text("ends with Zq9") == "ends with Zq9"  # three characters say nothing


def test_secret_header_and_field_names_hide_their_values():
    data = {
        "headers": {"Authorization": "whatever-format", "Cookie": "a=b", "Accept": "json"},
        "api_key": "plain-value",
        "step_id": "fetch_token",
    }
    out = Redactor().data(data)
    assert out["headers"] == {"Authorization": "***", "Cookie": "***", "Accept": "json"}
    assert out["api_key"] == "***" and out["step_id"] == "fetch_token"


@pytest.mark.slow
def test_no_secret_reaches_any_sink(tmp_path, monkeypatch):
    # Every form planted in a step's output and a secret input, then looked for in every
    # sink: trace, step files, manifest, index, scenario, incident post, postmortem
    # (Markdown, HTML, PDF text), console and --json output.
    import os
    import sqlite3
    import subprocess

    from helpers import gert

    secret_input = 'p@ss/w"rd\\x-SEC2pw'
    planted = [
        *FORMS,
        f"json={json.dumps({'v': secret_input})}",
        f"b64={base64.b64encode(secret_input.encode()).decode()}",
    ]
    monkeypatch.setenv("DB_PW", secret_input)
    (tmp_path / "gert.yaml").write_text("record: auto\n")
    (tmp_path / "out.txt").write_text("\n".join(planted) + "\n")
    (tmp_path / "s.runbook.yaml").write_text(
        "apiVersion: runbook/v0\n"
        "meta: {name: s, inputs: {pw: {from: env.DB_PW, secret: true}}}\n"
        "steps:\n"
        "  - id: leak\n    type: cli\n    with: {argv: [cat, out.txt]}\n"
        "    capture: {raw: stdout}\n"
        "  - id: use\n    type: cli\n    with: {argv: [echo, '{{ .pw }}']}\n"
        "    capture: {echoed: stdout}\n"
        "  - id: derive\n    type: cli\n"
        "    with: {argv: [echo, '{{ printf \"%.7s\" .pw }}', '{{ slice .pw 8 16 }}']}\n"
        "    outcomes: [{state: resolved, recommendation: 'saw {{ .raw }} {{ .echoed }}'}]\n"
    )
    env = dict(os.environ)
    assert gert("incident", "create", "S1", "--title", "secrets", cwd=tmp_path).returncode == 0
    console = gert("exec", "s.runbook.yaml", "--incident", "S1", cwd=tmp_path, env=env)
    as_json = gert(
        "exec", "s.runbook.yaml", "--incident", "S1", "--json", "--no-post", cwd=tmp_path, env=env
    )
    pm = gert("postmortem", "S1", "--no-input", "--format", "html", "--format", "pdf", cwd=tmp_path)
    assert console.returncode == 0 and as_json.returncode == 0 and pm.returncode == 0, pm.stderr
    texts = [console.stdout + console.stderr, as_json.stdout + as_json.stderr]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix not in (".pdf", ".sqlite") and path.name != "out.txt":
            texts.append(path.read_text(errors="replace"))
    with sqlite3.connect(tmp_path / ".runbook" / "index.sqlite") as db:
        texts.append(json.dumps(db.execute("SELECT * FROM runs").fetchall()))
    for pdf in tmp_path.rglob("*.pdf"):
        texts.append(
            subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        )
    everything = "\n".join(texts)
    derived = [secret_input[:7], secret_input[8:16]]  # what the templates cut from it
    leaked = [s for s in [*FORMS.values(), secret_input, "SEC2pw", *derived] if s in everything]
    assert leaked == []


def test_values_a_template_derives_from_a_secret_are_secret(project):
    project.write(
        "d.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: d, kind: composable, inputs: {token: {from: prompt, secret: true}, host: {from: prompt}}}
        steps:
          - id: cut
            type: cli
            with: {argv: [echo, '{{ printf "%.6s" .token }}', '{{ $t := .token }}{{ slice $t 6 12 }}', '{{ .host }}']}
            capture: {out: stdout}
          - id: later
            type: cli
            with: {argv: [echo, 'prefix Tk9abc again']}
            capture: {again: stdout}
        """,
    )
    run = project.run(
        "d.runbook.yaml", variables={"token": "Tk9abcDEF456ghiJKL", "host": "db1"}
    ).final
    assert run.status == "completed"
    evidence = project.files_text()
    assert "Tk9abc" not in evidence and "DEF456" not in evidence
    assert "db1" in evidence  # what is not derived from the secret stays readable
    assert run.captures == {"out": "*** *** db1", "again": "prefix *** again"}


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=80))
def test_the_quick_hint_check_agrees_with_the_case_blind_regex_on_ascii(value: str) -> None:
    from gert.governance import _ANY_HINT, _has_hint

    assert _has_hint(value, value.lower()) == (_ANY_HINT.search(value) is not None)


def test_a_secret_added_later_is_redacted_from_text_seen_before() -> None:
    """Redactor.text remembers answers for short strings; a new secret forgets them."""
    from gert.governance import Redactor

    r = Redactor()
    assert r.text("server sql-hunter22-eu") == "server sql-hunter22-eu"
    r.add_secret("hunter22")
    assert r.text("server sql-hunter22-eu") == "server sql-***-eu"
