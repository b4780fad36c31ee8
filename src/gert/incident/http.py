"""Incident providers over HTTP: webhook, PagerDuty, Jira, GitHub, ServiceNow.

Each speaks its service's real API (paths, auth header, body); secrets come from the
environment variables gert.yaml names. Faults become :class:`IncidentError`: 401, 403 and
404 are final; 429 and 5xx are retryable and carry the server's ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

from gert.incident import IncidentError

TIMEOUT = 10.0
MAX_WAIT = 30.0  # the longest Retry-After gert honours


def secret(settings: dict[str, Any], key: str, provider: str) -> str:
    """The value of the environment variable a setting names (``token_env: VAR``)."""
    var = settings.get(key)
    if not var:
        raise IncidentError(
            f"{provider}: gert.yaml incident.{provider}.{key} must name an environment variable",
            final=True,
        )
    value = os.environ.get(str(var))
    if not value:
        raise IncidentError(
            f"{provider}: environment variable {var} ({key}) is not set", final=True
        )
    return value


def setting(settings: dict[str, Any], key: str, provider: str) -> str:
    """A required plain setting."""
    value = settings.get(key)
    if not value:
        raise IncidentError(
            f"{provider}: gert.yaml incident.{provider}.{key} is required", final=True
        )
    return str(value)


class HttpProvider:
    """Requests with timeouts; GETs retried honouring Retry-After; errors made readable."""

    name = "http"

    def __init__(self, settings: dict[str, Any]):
        self.settings = settings
        self.timeout = float(settings.get("timeout", TIMEOUT))

    def headers(self) -> dict[str, str]:
        return {}

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        attempts: int = 1,
    ) -> Any:
        """JSON of a 2xx answer; IncidentError otherwise (``retry_after`` set when it may pass)."""
        import httpx2

        all_headers = {"Accept": "application/json", **self.headers(), **(headers or {})}
        for attempt in range(1, attempts + 1):
            try:
                with httpx2.Client(timeout=self.timeout, trust_env=False) as client:
                    r = client.request(
                        method, url, json=json_body, content=content, headers=all_headers
                    )
            except httpx2.TimeoutException:
                error = IncidentError(
                    f"{self.name}: {method} {url} timed out after {self.timeout:g}s"
                )
            except httpx2.HTTPError as e:
                error = IncidentError(f"{self.name}: {method} {url} failed: {e}")
            else:
                if 200 <= r.status_code < 300:
                    if not r.content:
                        return {}
                    try:
                        return r.json()
                    except ValueError:
                        raise IncidentError(
                            f"{self.name}: {method} {url} answered {r.status_code} with a body "
                            f"that is not JSON: {r.text[:80]!r}",
                            final=True,
                        ) from None
                error = self._status_error(method, url, r)
            if error.final or attempt == attempts:
                raise error
            time.sleep(min(getattr(error, "retry_after", None) or attempt * 0.5, MAX_WAIT))
        raise AssertionError("unreachable")  # pragma: no cover

    def _status_error(self, method: str, url: str, r: Any) -> IncidentError:
        code = r.status_code
        detail = r.text[:200].strip()
        if code in (401, 403):
            return IncidentError(
                f"{self.name}: {code} — the credentials were refused ({detail})", final=True
            )
        if code == 404:
            return IncidentError(f"{self.name}: {code} — not found: {url}", final=True)
        if code == 429 or code >= 500:
            err = IncidentError(f"{self.name}: {code} from {method} {url} ({detail})")
            err.retry_after = _retry_after(r.headers.get("Retry-After"))  # type: ignore[attr-defined]
            return err
        return IncidentError(f"{self.name}: {code} from {method} {url} ({detail})", final=True)

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """Timeline entries where the service has them (default: none)."""
        return []


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:  # an HTTP date
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _expect(data: Any, key: str, provider: str, what: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise IncidentError(
            f"{provider}: the answer to {what} has no '{key}' (not what its API promises)",
            final=True,
        )
    return data[key]


class WebhookProvider(HttpProvider):
    """POSTs each entry as JSON, signed: ``X-Gert-Signature: sha256=<HMAC of the body>``."""

    name = "webhook"

    def get(self, incident_id: str) -> dict[str, Any]:
        raise IncidentError(
            "webhook: a webhook can receive posts but cannot fetch incidents; "
            "give inputs with --var, or use another provider",
            final=True,
        )

    def post(self, incident_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(
            {"incident_id": incident_id, **entry}, ensure_ascii=False, sort_keys=True
        ).encode()
        key = secret(self.settings, "secret_env", self.name).encode()
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        answer = self.request(
            "POST",
            setting(self.settings, "url", self.name),
            content=body,
            headers={"Content-Type": "application/json", "X-Gert-Signature": f"sha256={signature}"},
        )
        return {"id": str((answer or {}).get("id") or signature[:16])}


class PagerDutyProvider(HttpProvider):
    """PagerDuty REST API v2: incidents and their notes."""

    name = "pagerduty"

    def base(self) -> str:
        return str(self.settings.get("base_url") or "https://api.pagerduty.com").rstrip("/")

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Token token={secret(self.settings, 'token_env', self.name)}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        }

    def get(self, incident_id: str) -> dict[str, Any]:
        inc = _expect(
            self.request("GET", f"{self.base()}/incidents/{incident_id}", attempts=3),
            "incident",
            self.name,
            "GET incident",
        )
        fields = {
            f.get("name"): f.get("value")
            for f in inc.get("custom_fields") or []
            if isinstance(f, dict)
        }
        return {
            "id": incident_id,
            "title": inc.get("title", ""),
            "severity": (inc.get("priority") or {}).get("name") or inc.get("urgency"),
            "status": inc.get("status"),
            "created_at": inc.get("created_at"),
            "custom_fields": fields,
            "location": {"service": (inc.get("service") or {}).get("summary", "")},
        }

    def post(self, incident_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        answer = self.request(
            "POST",
            f"{self.base()}/incidents/{incident_id}/notes",
            json_body={"note": {"content": entry["text"]}},
            headers={"From": setting(self.settings, "from_email", self.name)},
        )
        return {
            "id": str(
                _expect(
                    _expect(answer, "note", self.name, "POST note"), "id", self.name, "POST note"
                )
            )
        }

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        notes = _expect(
            self.request("GET", f"{self.base()}/incidents/{incident_id}/notes", attempts=3),
            "notes",
            self.name,
            "GET notes",
        )
        return [
            {"ts": n.get("created_at", ""), "kind": "note", "text": n.get("content", "")}
            for n in notes
        ]


class _BasicAuth(HttpProvider):
    user_key = "user_env"
    password_key = "token_env"

    def headers(self) -> dict[str, str]:
        pair = f"{secret(self.settings, self.user_key, self.name)}:{secret(self.settings, self.password_key, self.name)}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def base(self) -> str:
        return setting(self.settings, "base_url", self.name).rstrip("/")


class JiraProvider(_BasicAuth):
    """Jira REST API v2: an issue and its comments."""

    name = "jira"

    def get(self, incident_id: str) -> dict[str, Any]:
        issue = self.request("GET", f"{self.base()}/rest/api/2/issue/{incident_id}", attempts=3)
        fields = _expect(issue, "fields", self.name, "GET issue")
        custom = {k: v for k, v in fields.items() if k.startswith("customfield_") and v is not None}
        return {
            "id": incident_id,
            "title": fields.get("summary", ""),
            "severity": (fields.get("priority") or {}).get("name"),
            "status": (fields.get("status") or {}).get("name"),
            "created_at": fields.get("created"),
            "custom_fields": custom,
            "location": {},
        }

    def post(self, incident_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        answer = self.request(
            "POST",
            f"{self.base()}/rest/api/2/issue/{incident_id}/comment",
            json_body={"body": entry["text"]},
        )
        return {"id": str(_expect(answer, "id", self.name, "POST comment"))}

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        comments = _expect(
            self.request(
                "GET", f"{self.base()}/rest/api/2/issue/{incident_id}/comment", attempts=3
            ),
            "comments",
            self.name,
            "GET comments",
        )
        return [
            {"ts": c.get("created", ""), "kind": "comment", "text": c.get("body", "")}
            for c in comments
        ]


class GitHubProvider(HttpProvider):
    """GitHub REST API: an issue of ``repo`` and its comments (Markdown)."""

    name = "github"

    def base(self) -> str:
        base = str(self.settings.get("base_url") or "https://api.github.com").rstrip("/")
        return f"{base}/repos/{setting(self.settings, 'repo', self.name)}/issues"

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {secret(self.settings, 'token_env', self.name)}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def get(self, incident_id: str) -> dict[str, Any]:
        issue = self.request("GET", f"{self.base()}/{incident_id}", attempts=3)
        title = _expect(issue, "title", self.name, "GET issue")
        labels = [lb.get("name", "") for lb in issue.get("labels") or [] if isinstance(lb, dict)]
        fields = dict(
            lb.split(":", 1) for lb in labels if ":" in lb
        )  # "ServerName:sql01" labels as fields
        return {
            "id": incident_id,
            "title": title,
            "severity": fields.get("severity"),
            "status": issue.get("state"),
            "created_at": issue.get("created_at"),
            "custom_fields": fields,
            "location": {},
        }

    def post(self, incident_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        answer = self.request(
            "POST", f"{self.base()}/{incident_id}/comments", json_body={"body": entry["markdown"]}
        )
        return {"id": str(_expect(answer, "id", self.name, "POST comment"))}

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        comments = self.request("GET", f"{self.base()}/{incident_id}/comments", attempts=3)
        if not isinstance(comments, list):
            raise IncidentError("github: the comments answer is not a list", final=True)
        return [
            {"ts": c.get("created_at", ""), "kind": "comment", "text": c.get("body", "")}
            for c in comments
        ]


class ServiceNowProvider(_BasicAuth):
    """ServiceNow Table API: an incident by number; posts are work notes."""

    name = "servicenow"
    password_key = "password_env"

    def _record(self, incident_id: str) -> dict[str, Any]:
        found = _expect(
            self.request(
                "GET",
                f"{self.base()}/api/now/table/incident?sysparm_query=number%3D{incident_id}"
                "&sysparm_limit=1",
                attempts=3,
            ),
            "result",
            self.name,
            "GET incident",
        )
        if not found:
            raise IncidentError(f"servicenow: no incident {incident_id}", final=True)
        return found[0]

    def get(self, incident_id: str) -> dict[str, Any]:
        rec = self._record(incident_id)
        custom = {k: v for k, v in rec.items() if k.startswith("u_")}
        return {
            "id": incident_id,
            "title": rec.get("short_description", ""),
            "severity": rec.get("priority"),
            "status": rec.get("state"),
            "created_at": rec.get("opened_at"),
            "custom_fields": custom,
            "location": {"location": rec.get("location", ""), "cmdb_ci": rec.get("cmdb_ci", "")},
        }

    def post(self, incident_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        sys_id = self._record(incident_id)["sys_id"]
        answer = self.request(
            "PATCH",
            f"{self.base()}/api/now/table/incident/{sys_id}",
            json_body={"work_notes": entry["text"]},
        )
        rec = _expect(answer, "result", self.name, "PATCH incident")
        return {"id": f"{sys_id}@{rec.get('sys_updated_on', '')}"}
