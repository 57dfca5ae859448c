"""devpi-web pages of the build farm, rendered by a real devpi-server with devpi-web and
parsed: the index's build list, a build's page (state, target, builder, backend,
isolation, stage timings, wheel link, log; retry/cancel commands only for those who may)
and the version page's link from each built wheel to its build."""

from __future__ import annotations

import platform
import shutil
import sys
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from bs4 import BeautifulSoup

from harness.api import DevpiApi
from harness.buildfarm import upload_with_tools, wait_for
from harness.clients import run
from harness.dists import Project
from harness.server import ROOT_PASSWORD, DevpiServer
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Iterator

from devpi_buildfarm.core.targets import host_target

BINDIR = Path(sys.executable).parent
TARGET, _ = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
INDEX = "root/webbuilds"
PROJECT = Project("web-demo", "1.0")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevpiServer, int]]:
    """A server with devpi-web that built ``PROJECT`` on ``INDEX``; the job's id."""
    work = tmp_path_factory.mktemp("buildfarm-web")
    args = ("--buildfarm-workers", "1", "--buildfarm-max-attempts", "1")
    # where bubblewrap is missing (never in CI) the pages are the same for an unisolated build
    args += ("--buildfarm-allow-unisolated",)
    server = DevpiServer(work / "serverdir", BINDIR, args=args).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index(INDEX, bases=[], buildfarm_targets=[TARGET])
        upload_with_tools(server, work, INDEX, PROJECT)
        jobs = wait_for(root, INDEX, PROJECT.name)
        assert [j["state"] for j in jobs] == ["succeeded"], jobs
        yield server, int(jobs[0]["id"])
    finally:
        server.stop()


def page(server: DevpiServer, path: str, auth: dict[str, str] | None = None) -> BeautifulSoup:
    resp = DevpiApi(server.url, auth or {}).request("GET", path, headers={"Accept": "text/html"})
    assert resp.status == 200, (path, resp.status, resp.body[:500])
    assert resp.headers["Content-Type"].startswith("text/html")
    return BeautifulSoup(resp.body, "html.parser")


def test_the_build_list_links_each_build(built: tuple[DevpiServer, int]) -> None:
    server, job_id = built
    html = page(server, f"{INDEX}/+buildfarm/builds")
    rows = html.select("table.buildfarm-builds tbody tr")
    assert len(rows) == 1
    cells = [td.get_text(strip=True) for td in rows[0].find_all("td")]
    assert cells[:4] == [str(job_id), "succeeded", "web-demo 1.0", TARGET]
    assert cells[5].startswith("web_demo-1.0-")
    link = rows[0].find("a")["href"]
    assert link == f"{server.url}/{INDEX}/+buildfarm/builds/{job_id}"
    assert html.select_one("#navigation")  # devpi-web's own navigation around it


def test_the_build_page_shows_the_job_and_its_log(built: tuple[DevpiServer, int]) -> None:
    server, job_id = built
    html = page(server, f"{INDEX}/+buildfarm/builds/{job_id}")
    fields = {
        tr.th.get_text(strip=True): tr.td.get_text(strip=True)
        for tr in html.select("table.buildfarm-build tr")
    }
    assert fields["state"] == "succeeded"
    assert fields["release"] == "web-demo 1.0"
    assert fields["sdist"] == "web_demo-1.0.tar.gz"
    assert fields["target"] == TARGET
    assert fields["builder"] == "local"
    assert fields["backend"] == "local"
    assert fields["isolation"] not in ("", "-")
    assert "total" in fields["timings"]
    for stage in ("fetch", "build", "publish"):
        assert stage in fields["timings"]
    wheel = html.select_one("td.buildfarm-wheel a")
    assert wheel.get_text(strip=True) == fields["wheel"]
    assert wheel["href"] == f"{server.url}/{INDEX}/web-demo/1.0"
    log = html.select_one("pre.buildfarm-log").get_text()
    raw = DevpiApi(server.url).request(
        "GET", f"{INDEX}/+buildfarm/jobs/{job_id}/log", headers={"Accept": "text/plain"}
    )
    assert log.strip()
    assert log == raw.body.decode()  # the whole (short) log, as text
    # anonymous users may not act on it; whoever may upload is shown how
    assert html.select_one(".buildfarm-actions") is None
    missing = DevpiApi(server.url).request(
        "GET", f"{INDEX}/+buildfarm/builds/9999", headers={"Accept": "text/html"}
    )
    assert missing.status == 404


def test_the_version_page_links_the_built_wheel_to_its_build(
    built: tuple[DevpiServer, int],
) -> None:
    server, job_id = built
    html = page(server, f"{INDEX}/web-demo/1.0")
    link = next(a for a in html.find_all("a") if a["href"].endswith(f"/+buildfarm/builds/{job_id}"))
    assert link.get_text(strip=True).startswith("web_demo-1.0-")
    assert f"(build {job_id})" in link.parent.get_text()


def _png_rows(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (enough to tell it is not blank)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_the_build_page_renders_its_log_in_chromium(
    built: tuple[DevpiServer, int], tmp_path: Path
) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    require(None if chromium else "no chromium on PATH", "Debian's chromium (headless)")
    assert chromium is not None
    server, job_id = built
    url = f"{server.url}/{INDEX}/+buildfarm/builds/{job_id}"
    headless = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600"]  # fmt: skip
    shot = tmp_path / "build.png"
    run([*headless, f"--screenshot={shot}", url], tmp_path / "home")
    width, height, pixels = _png_rows(shot.read_bytes())
    assert (width, height) == (1200, 1600)
    assert len(set(pixels)) > 16  # drawn: text and tables, not a blank or error page
    dom = BeautifulSoup(
        run([*headless, "--dump-dom", url], tmp_path / "home").stdout, "html.parser"
    )
    shown = dom.select_one("pre.buildfarm-log")
    raw = (
        DevpiApi(server.url)
        .request("GET", f"{INDEX}/+buildfarm/jobs/{job_id}/log", headers={"Accept": "text/plain"})
        .body
    )
    assert shown is not None
    assert shown.get_text() == raw.decode()


def test_who_may_upload_is_shown_how_to_cancel_or_retry(tmp_path: Path) -> None:
    # no worker: the build stays queued until cancelled
    args = ("--buildfarm-workers", "0")
    server = DevpiServer(tmp_path / "serverdir", BINDIR, args=args).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index("root/queued", bases=[], buildfarm_targets=[TARGET])
        upload_with_tools(server, tmp_path, "root/queued", PROJECT)
        deadline = time.monotonic() + 60
        while not (jobs := root.ok("GET", "root/queued/+buildfarm/jobs")):  # queued after commit
            assert time.monotonic() < deadline, "the upload queued no build"
            time.sleep(0.2)
        job = jobs[0]
        assert job["state"] == "queued"
        path = f"root/queued/+buildfarm/builds/{job['id']}"
        actions = page(server, path, root.auth).select_one(".buildfarm-actions")
        assert actions is not None
        assert actions.pre.get_text() == f"devpi build cancel {job['id']} --index root/queued"
        assert page(server, path).select_one(".buildfarm-actions") is None  # anonymous
        root.ok("POST", f"root/queued/+buildfarm/jobs/{job['id']}/cancel")
        actions = page(server, path, root.auth).select_one(".buildfarm-actions")
        assert actions is not None
        assert actions.pre.get_text() == f"devpi build retry {job['id']} --index root/queued"
    finally:
        server.stop()
