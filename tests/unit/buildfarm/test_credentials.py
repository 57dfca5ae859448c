"""Job credentials: random, scoped to reads and to the job's upload index, revoked and
expiring; never valid for another user or as an ordinary password."""

from __future__ import annotations

import pytest

from devpi_buildfarm.adapters.credentials import PREFIX, Credentials, is_file_upload


def test_a_credential_authenticates_only_its_user() -> None:
    creds = Credentials()
    grant = creds.issue(job_id=7, username="bob", upload_to="bob/dev", seconds=60)
    assert grant.password.startswith(f"{PREFIX}7-")
    assert len(grant.password) > len(PREFIX) + 40
    assert creds.find("bob", grant.password) == grant
    assert creds.find("alice", grant.password) is None
    assert creds.find("bob", grant.password + "x") is None
    assert creds.find("bob", "bob-password") is None  # ordinary passwords are not ours
    assert grant.password not in repr(grant)  # never in a log line by accident


def test_revoked_and_expired_credentials_are_gone() -> None:
    creds = Credentials()
    grant = creds.issue(job_id=1, username="bob", upload_to="bob/dev", seconds=60)
    creds.revoke(grant)
    assert creds.find("bob", grant.password) is None
    old = creds.issue(job_id=2, username="bob", upload_to="bob/dev", seconds=-1)
    assert creds.find("bob", old.password) is None


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", "/root/pypi/+f/abc/x.tar.gz", True), ("HEAD", "/bob/dev/+simple/x/", True),
     ("POST", "/bob/dev/", True), ("POST", "/bob/dev", True), ("POST", "/bob/other/", False),
     ("PUT", "/bob/dev", False), ("PATCH", "/bob/dev", False), ("DELETE", "/bob/dev", False),
     ("POST", "/+login", False)],
)  # fmt: skip
def test_a_credential_reads_and_uploads_to_its_index_only(
    method: str, path: str, allowed: bool
) -> None:
    grant = Credentials().issue(job_id=1, username="bob", upload_to="bob/dev", seconds=60)
    assert grant.allows(method, path) is allowed


class Request:
    """What the identity hook reads of a request."""

    def __init__(self, method: str, content_type: str, form: dict[str, str],
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        self.method, self.content_type, self.POST = method, content_type, form
        self.headers = headers or {}


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [(Request("POST", "multipart/form-data", {":action": "file_upload"}), True),
     (Request("POST", "application/json", {}), False),  # a push
     (Request("POST", "multipart/form-data", {":action": "submit"}), False),  # register
     (Request("POST", "multipart/form-data", {":action": "doc_upload"}), False),
     (Request("POST", "multipart/form-data", {":action": "file_upload"},
              {"X-Devpi-Auth": "x"}), False)],
    ids=["file-upload", "push", "submit", "doc-upload", "devpi-auth"],
)  # fmt: skip
def test_the_only_write_a_credential_makes_is_a_file_upload(
    request_: Request, allowed: bool
) -> None:
    assert is_file_upload(request_) is allowed
