"""A small real HTTP server speaking the PEP 691 JSON simple API (api-version 1.1).

devpi-server does not serve PEP 700 fields such as ``upload-time``; tests that need an
upstream with them mirror this server instead. It also serves PEP 503 HTML for clients that
do not ask for JSON, and the files themselves.

Project pages carry an ``ETag`` (a digest of the page and ``etag_generation``) and are
answered ``304 Not Modified`` to an ``If-None-Match`` naming any ETag of the current page;
a test bumps ``etag_generation`` to have unchanged pages served under a new ETag (as a
server behind several caches does). ``log`` records every request with the headers that
matter for that and the status it got.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pathlib import Path

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def _normalize(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class UpstreamFile:
    """One file of the fake upstream, with the PEP 691/700 fields it announces."""

    path: Path
    upload_time: str | None = None  # ISO 8601, e.g. "2024-01-02T03:04:05.000000Z"
    requires_python: str | None = None
    yanked: bool | str = False
    core_metadata: bytes | None = None

    @property
    def filename(self) -> str:
        return self.path.name

    def as_json(self) -> dict[str, Any]:
        data = self.path.read_bytes()
        entry: dict[str, Any] = {
            "filename": self.filename,
            "url": f"../../files/{self.filename}",
            "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
            "size": len(data),
            "yanked": self.yanked,
        }
        if self.upload_time is not None:
            entry["upload-time"] = self.upload_time
        if self.requires_python is not None:
            entry["requires-python"] = self.requires_python
        if self.core_metadata is not None:
            digest = hashlib.sha256(self.core_metadata).hexdigest()
            entry["core-metadata"] = {"sha256": digest}
        return entry


@dataclass(frozen=True)
class Seen:
    """One request the server answered."""

    path: str
    accept: str
    if_none_match: str | None
    status: int
    etag: str | None


@dataclass
class Pep691Server:
    """Serves ``projects`` (name -> files) until :meth:`stop`."""

    projects: dict[str, list[UpstreamFile]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    log: list[Seen] = field(default_factory=list)
    etag_generation: int = 0
    _httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def simple_url(self) -> str:
        return f"{self.url}/simple/"

    def start(self) -> Pep691Server:
        handler = type("Handler", (_Handler,), {"upstream": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def find(self, filename: str) -> UpstreamFile | None:
        for files in self.projects.values():
            for f in files:
                if f.filename == filename:
                    return f
        return None


class _Handler(BaseHTTPRequestHandler):
    upstream: ClassVar[Pep691Server]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        self.upstream.requests.append(self.path)

    def _send(self, status: int, body: bytes, ctype: str, etag: str | None = None) -> None:
        seen = Seen(self.path, self.headers.get("Accept", ""),
                    self.headers.get("If-None-Match"), status, etag)  # fmt: skip
        self.upstream.log.append(seen)
        self.send_response(status)
        if etag is not None:
            self.send_header("ETag", etag)
        if status == HTTPStatus.NOT_MODIFIED:
            self.end_headers()
            return
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_page(self, body: bytes, ctype: str) -> None:
        """A project page with its ETag; 304 to a request that names an ETag of it."""
        digest = hashlib.sha256(body).hexdigest()[:32]
        etag = f'"{digest}-{self.upstream.etag_generation}"'
        wanted = [t.strip() for t in self.headers.get("If-None-Match", "").split(",")]
        if any(t.startswith(f'"{digest}-') for t in wanted):
            self._send(HTTPStatus.NOT_MODIFIED, b"", ctype, etag)
        else:
            self._send(HTTPStatus.OK, body, ctype, etag)

    def do_GET(self) -> None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        wants_json = JSON_TYPE in self.headers.get("Accept", "")
        projects = {_normalize(n): (n, files) for n, files in self.upstream.projects.items()}
        if parts == ["simple"]:
            names = [name for name, _ in projects.values()]
            self._index(names, wants_json=wants_json)
        elif len(parts) == 2 and parts[0] == "simple" and _normalize(parts[1]) in projects:
            name, files = projects[_normalize(parts[1])]
            self._project(name, files, wants_json=wants_json)
        elif len(parts) == 2 and parts[0] == "files":
            self._file(parts[1])
        else:
            self._send(404, b"not found", "text/plain")

    def _index(self, names: list[str], *, wants_json: bool) -> None:
        if wants_json:
            data = {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]}
            self._send(200, json.dumps(data).encode(), JSON_TYPE)
            return
        links = "".join(f'<a href="{_normalize(n)}/">{html.escape(n)}</a>\n' for n in names)
        self._send(200, f"<html><body>{links}</body></html>".encode(), "text/html")

    def _project(self, name: str, files: list[UpstreamFile], *, wants_json: bool) -> None:
        entries = [f.as_json() for f in files]
        if wants_json:
            versions = sorted({f.filename.split("-")[1] for f in files})
            data = {"meta": {"api-version": "1.1"}, "name": _normalize(name), "files": entries}
            data["versions"] = versions
            self._send_page(json.dumps(data).encode(), JSON_TYPE)
            return
        anchor = '<a href="{url}#sha256={sha256}">{name}</a>\n'
        links = "".join(
            anchor.format(
                url=e["url"], sha256=e["hashes"]["sha256"], name=html.escape(e["filename"])
            )
            for e in entries
        )
        self._send_page(f"<html><body>{links}</body></html>".encode(), "text/html")

    def _file(self, filename: str) -> None:
        if filename.endswith(".metadata"):
            found = self.upstream.find(filename.removesuffix(".metadata"))
            if found is not None and found.core_metadata is not None:
                self._send(200, found.core_metadata, "application/octet-stream")
                return
        found = self.upstream.find(filename)
        if found is None:
            self._send(404, b"not found", "text/plain")
            return
        self._send(200, found.path.read_bytes(), "application/octet-stream")
