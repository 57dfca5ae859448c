"""Fetching an sdist through the server: what is worth waiting out is retried, the rest
fails at once with the URL and the status."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from typing import TYPE_CHECKING, ClassVar

import pytest

from devpi_buildfarm.adapters import fetching
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class Answers(http.server.BaseHTTPRequestHandler):
    statuses: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        status = self.statuses.pop(0) if self.statuses else 200
        body = b"sdist bytes" if status == 200 else b"no"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(fetching, "FETCH_DELAYS", (0.01, 0.01, 0.01))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/root/pypi/+f/abc/demo-1.0.tar.gz"
    httpd.shutdown()
    httpd.server_close()


def test_uncommitted_or_gone_for_a_moment_is_waited_out(server: str, tmp_path: Path) -> None:
    Answers.statuses = [410, 404, 502]
    lines: list[bytes] = []
    digest = fetching.fetch_to(server, tmp_path / "sdist", log=lines.append)
    assert (tmp_path / "sdist").read_bytes() == b"sdist bytes"
    assert digest == hashlib.sha256(b"sdist bytes").hexdigest()
    assert len(lines) == 3
    assert b": 410; trying again" in lines[0]


def test_it_gives_up_after_the_last_delay(server: str, tmp_path: Path) -> None:
    Answers.statuses = [410] * 10
    with pytest.raises(BuildError, match=r"could not fetch .*demo-1\.0\.tar\.gz: 410 Gone"):
        fetching.fetch_to(server, tmp_path / "sdist")


def test_a_refusal_fails_at_once(server: str, tmp_path: Path) -> None:
    Answers.statuses = [403, 200]
    with pytest.raises(BuildError, match="403 Forbidden") as info:
        fetching.fetch_to(server, tmp_path / "sdist")
    assert info.value.stage == "fetch"
    assert Answers.statuses == [200]


def test_nobody_listening_fails_with_the_url(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=re.escape("could not fetch http://127.0.0.1:9/x")):
        fetching.fetch_to("http://127.0.0.1:9/x", tmp_path / "sdist", timeout=2)


def test_an_sdist_over_the_cap_is_refused(server: str, tmp_path: Path) -> None:
    Answers.statuses = [200]
    with pytest.raises(BuildError, match="is larger than 5 bytes") as info:
        fetching.fetch_to(server, tmp_path / "sdist", max_bytes=5)
    assert info.value.stage == "fetch"
    assert fetching.MAX_SDIST_BYTES == 1024**3  # docs/security.md: "the sdist download 1 GiB"
