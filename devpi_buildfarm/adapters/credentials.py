"""Job credentials: a build reads and publishes as the identity that caused it.

While a job runs, the worker holds a random password for the job's identity (the uploader
of the sdist, or whoever asked for the build). devpi authenticates requests carrying it
as that user (``devpiserver_get_identity``), so devpi's own permission checks, and any
read-ACL plugin's, apply to every input the build reads and to the upload of its wheel.
A credential is good only for reading (GET/HEAD) and for one kind of write: a multipart
``file_upload`` to the job's ``buildfarm_upload_to`` (no push, no register, no docs). It
lives in this process's memory, expires with the job's timeout and is revoked when the
attempt ends. It never reaches a build process, a command line or a log.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

PREFIX: Final = "devpi-buildfarm-job-"
READ_METHODS: Final = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Grant:
    """What one job credential allows."""

    job_id: int
    username: str
    upload_to: str
    expires: float
    password: str = field(repr=False)

    def allows(self, method: str, path: str) -> bool:
        """Reads anywhere; writes only as an upload to ``upload_to`` (``/user/index/``)."""
        if method in READ_METHODS:
            return True
        return method == "POST" and path.rstrip("/") == f"/{self.upload_to}"


def is_file_upload(request: Any) -> bool:
    """Whether a POST is the one write a job credential may make: a multipart
    ``file_upload`` sent with basic auth (not devpi's own login token)."""
    return bool(
        request.content_type == "multipart/form-data"
        and request.POST.get(":action") == "file_upload"
        and not request.headers.get("X-Devpi-Auth")
    )


class JobIdentity:
    """The identity devpi sees for a request made with a job credential."""

    def __init__(self, username: str) -> None:
        self.username = username
        self.groups: list[str] = []


class Credentials:
    """The job credentials of one server (in memory: they die with the process)."""

    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def issue(self, *, job_id: int, username: str, upload_to: str, seconds: float) -> Grant:
        password = f"{PREFIX}{job_id}-{secrets.token_urlsafe(32)}"
        grant = Grant(job_id=job_id, username=username, upload_to=upload_to,
                      expires=time.monotonic() + seconds, password=password)  # fmt: skip
        with self._lock:
            self._grants[password] = grant
        return grant

    def revoke(self, grant: Grant) -> None:
        with self._lock:
            self._grants.pop(grant.password, None)

    def find(self, username: str, password: str) -> Grant | None:
        """The live grant of ``(username, password)`` (``None``: not a job credential)."""
        if not password.startswith(PREFIX):
            return None
        with self._lock:
            grant = self._grants.get(password)
            now = time.monotonic()
            for key in [k for k, g in self._grants.items() if g.expires < now]:
                del self._grants[key]
        if grant is None or grant.expires < now:
            return None
        if not hmac.compare_digest(grant.username.encode(), username.encode()):
            return None
        return grant
