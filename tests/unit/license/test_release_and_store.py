"""A release's license from its files, its stored forms, and the plugin's store."""

from __future__ import annotations

import http.server
import io
import json
import threading
import zipfile
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from devpi_foundry_common.archive import MAX_METADATA_BYTES
from devpi_license.adapters.sources import Candidate, choose, fetch_upstream, version_of
from devpi_license.adapters.store import LicenseStore
from devpi_license.core.extract import extract
from devpi_license.core.release import (
    SOURCES_KEY,
    SPDX_KEY,
    combine,
    from_json,
    from_versiondata,
    with_file,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

WHEEL = "a-1.0-py3-none-any.whl"
SDIST = "a-1.0.tar.gz"


def test_the_most_trusted_file_decides_and_others_conflict() -> None:
    found = combine({
        SDIST: extract({"license": "MIT License"}, {}),
        WHEEL: extract({"license_expression": "Apache-2.0"}, {}),
    })  # fmt: skip
    assert (found.expression, found.source, found.file) == (
        "Apache-2.0",
        "License-Expression",
        WHEEL,
    )
    assert found.conflicts == (f"{SDIST} says 'MIT', {WHEEL} says 'Apache-2.0'",)
    assert {e.file for e in found.evidence} == {WHEEL, SDIST}


def test_a_file_without_license_data_leaves_evidence_that_it_was_read() -> None:
    found = combine({WHEEL: extract({}, {})})
    assert found.state == "unknown"
    assert found.expression is None
    assert [(e.file, e.how) for e in found.evidence] == [
        (WHEEL, "read: its metadata names no license")
    ]


def test_versiondata_round_trip_is_strings_only() -> None:
    found = with_file(None, "wheel", extract({"classifiers": [
        "License :: OSI Approved :: MIT License"]}, {}))  # fmt: skip
    stored = found.as_versiondata()
    assert stored[SPDX_KEY] == "MIT"
    assert all(isinstance(item, str) for item in stored[SOURCES_KEY])  # devpi-web renders them
    again = from_versiondata(stored)
    assert again == found
    assert from_json(json.loads(json.dumps(found.as_json()))) == found


def test_versiondata_without_or_with_broken_sources() -> None:
    assert from_versiondata({"license": "MIT"}) is None  # never extracted: pending
    assert from_versiondata({SOURCES_KEY: "not a list"}) is None
    item = {"source": "License", "value": "MIT", "expression": "MIT", "confidence": 0.9,
            "how": "x", "file": "sdist"}  # fmt: skip
    damaged = from_versiondata({SOURCES_KEY: ["{not json", json.dumps(item)]})
    assert damaged is not None
    assert damaged.expression == "MIT"


def test_a_second_upload_of_a_file_replaces_its_evidence() -> None:
    first = with_file(None, "sdist", extract({"license": "MIT License"}, {}))
    second = with_file(first, "sdist", extract({"license_expression": "BSD-3-Clause"}, {}))
    assert second.expression == "BSD-3-Clause"
    assert second.conflicts == ()


def test_one_candidate_per_version_wheels_first_newest_first() -> None:
    files = [
        ("a-1.0.tar.gz", "p/a-1.0.tar.gz", None),
        ("a-1.0-py3-none-any.whl", "p/a-1.0-py3-none-any.whl", "http://u/a-1.0-py3-none-any.whl"),
        ("a-2.0.tar.gz", "p/a-2.0.tar.gz", None),
        ("a-0.9.tar.gz", "p/a-0.9.tar.gz", None),
        ("a-1.0.exe", "p/a-1.0.exe", None),
    ]
    chosen = choose(files, skip={"0.9"})
    assert [(c.version, c.filename) for c in chosen] == [
        ("2.0", "a-2.0.tar.gz"), ("1.0", "a-1.0-py3-none-any.whl")]  # fmt: skip
    assert version_of("a-1.0.exe") is None


def test_store_keeps_licenses_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "licenses.sqlite"
    store = LicenseStore(path)
    found = combine({WHEEL: extract({"license_expression": "MIT"}, {})})
    store.put("root/pypi", "a", "1.0", found)
    assert store.get("root/pypi", "a", "1.0") == found
    assert store.get("root/pypi", "a", "2.0") is None
    store.close()
    again = LicenseStore(path)
    assert again.get("root/pypi", "a", "1.0") == found
    assert again.known_versions("root/pypi", "a") == {"1.0"}
    again.forget_index("root/pypi")
    assert again.get("root/pypi", "a", "1.0") is None
    again.close()


def test_a_damaged_store_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "licenses.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = LicenseStore(path)
    assert store.get("x/y", "a", "1.0") is None
    store.close()


class _Upstream(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}  # noqa: RUF012 - set by the fixture

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _wheel(metadata: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a-1.0.dist-info/METADATA", metadata)
        zf.writestr("a-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return buf.getvalue()


def test_upstream_metadata_first_then_the_file_then_limits(upstream: str) -> None:
    _Upstream.files = {
        "/m/a-1.0-py3-none-any.whl.metadata": b"Metadata-Version: 2.4\nName: a\nVersion: 1.0\n"
        b"License-Expression: MIT\n\n",
        "/f/a-1.0-py3-none-any.whl": _wheel(
            "Metadata-Version: 2.1\nName: a\nVersion: 1.0\nLicense: BSD-3-Clause\n\n"
        ),
        "/bomb/a-1.0-py3-none-any.whl": b"PK" + b"\0" * 4096,
    }
    with httpx.Client() as client:

        def read(prefix: str, limit: int = 10**6) -> Any:
            url = f"{upstream}/{prefix}/a-1.0-py3-none-any.whl"
            return fetch_upstream(client, Candidate("1.0", WHEEL, "r", url), limit)

        assert read("m").expression == "MIT"  # from .metadata, the wheel is not fetched
        assert read("f").expression == "BSD-3-Clause"  # no .metadata: the wheel itself
        broken = read("bomb")
        assert broken.expression is None
        assert "could not be read" in broken.evidence[0].how
        too_big = read("f", limit=10)
        assert too_big.expression is None
        assert "not read" in too_big.evidence[0].how
        with pytest.raises(httpx.HTTPStatusError):
            read("missing")


def test_upstream_metadata_over_its_cap_is_not_kept_the_wheel_is_read(upstream: str) -> None:
    _Upstream.files = {
        "/big/a-1.0-py3-none-any.whl.metadata": b"Metadata-Version: 2.4\nName: a\n"
        + b"X" * MAX_METADATA_BYTES,
        "/big/a-1.0-py3-none-any.whl": _wheel(
            "Metadata-Version: 2.1\nName: a\nVersion: 1.0\nLicense: BSD-3-Clause\n\n"
        ),
    }
    with httpx.Client() as client:
        url = f"{upstream}/big/a-1.0-py3-none-any.whl"
        found = fetch_upstream(client, Candidate("1.0", WHEEL, "r", url), 10**6)
    assert found.expression == "BSD-3-Clause"


def test_an_unreadable_file_makes_the_release_unreadable_through_versiondata() -> None:
    from devpi_license.core.extract import UNREADABLE, Evidence, LicenseInfo
    from devpi_license.core.release import from_versiondata, with_file

    why = Evidence(UNREADABLE, "wheel", None, 0.0, "could not be read: links are not allowed")
    info = LicenseInfo(
        "AGPL-3.0-only",
        "License-Expression",
        1.0,
        (Evidence("License-Expression", "AGPL-3.0-only", "AGPL-3.0-only", 1.0, "SPDX"), why),
    )
    release = with_file(None, "wheel", info)
    assert release.state == "unreadable"
    assert release.expression == "AGPL-3.0-only"
    assert release.unreadable == ("wheel could not be read: links are not allowed",)
    stored = from_versiondata({"name": "demo", "version": "1.0", **release.as_versiondata()})
    assert stored is not None
    assert (stored.state, stored.unreadable) == ("unreadable", release.unreadable)
    assert stored.as_json()["unreadable"] == list(release.unreadable)
