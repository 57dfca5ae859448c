"""A small HTTP client for devpi's JSON API, for test set-up and raw-HTTP assertions.

Behaviour that users reach through a client is tested through that client (see
``clients.py``); this module sets up users and indexes quickly and makes raw requests.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class DevpiApi:
    """JSON API calls against one devpi-server, optionally logged in."""

    url: str
    auth: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        data: Any = None,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        """Send one request; never raises for HTTP error statuses."""
        if data is not None:
            body = json.dumps(data).encode()
        hdrs = {"Accept": "application/json", **self.auth, **(headers or {})}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        url = path if path.startswith("http") else f"{self.url}/{path.lstrip('/')}"
        req = urllib.request.Request(url, data=body, method=method, headers=hdrs)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
                return Response(resp.status, resp.reason, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, err.reason, dict(err.headers), err.read())

    def ok(self, method: str, path: str, data: Any = None) -> Any:
        """Send a request that must succeed; return its JSON ``result`` (or the body)."""
        resp = self.request(method, path, data)
        if resp.status >= 400:
            msg = f"{method} {path} -> {resp.status} {resp.reason}: {resp.body[:500]!r}"
            raise AssertionError(msg)
        if not resp.body:
            return None
        payload = resp.json()
        return payload.get("result", payload) if isinstance(payload, dict) else payload

    def login(self, user: str, password: str) -> DevpiApi:
        """Return a client logged in as ``user`` (devpi's X-Devpi-Auth token)."""
        result = self.ok("POST", "+login", {"user": user, "password": password})
        token = base64.b64encode(f"{user}:{result['password']}".encode()).decode()
        return DevpiApi(self.url, {"X-Devpi-Auth": token})

    def create_user(self, user: str, password: str) -> None:
        self.ok("PUT", user, {"password": password, "email": f"{user}@example.invalid"})

    def create_index(self, name: str, **ixconfig: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.ok("PUT", name, ixconfig)
        return result

    def modify_index(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change some options of an index (devpi's client sends the full config too)."""
        ixconfig = self.ok("GET", f"{name}?no_projects=")
        ixconfig.update(changes)
        result: dict[str, Any] = self.ok("PATCH", name, ixconfig)
        return result

    def index(self, name: str) -> dict[str, Any]:
        """The configuration of index ``name`` (without its project list)."""
        result: dict[str, Any] = self.ok("GET", f"{name}?no_projects=")
        return result


def upload_form(fields: list[tuple[str, str]], path: Path) -> tuple[bytes, dict[str, str]]:
    """A raw ``file_upload`` form (body and headers) with ``fields`` and the file at
    ``path``: what twine sends, with any name and version the test wants to claim."""
    boundary = "devpi-foundry-test-form"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{path.name}"\r\n\r\n'
    ).encode()
    body += path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


#: the end of a devpi_policy refusal's reason phrase: the audit's request id
REQUEST_ID_TAIL = re.compile(r" \[request [0-9a-f]{16}\]")


def without_request_id(text: str) -> str:
    """A refusal's reason (or JSON message) without its ``[request ID]`` tail."""
    return REQUEST_ID_TAIL.sub("", text)
