"""devpi_buildfarm end to end: an sdist upload becomes a repaired manylinux wheel in the
index, built by the in-process worker with the local backend, that pip installs."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.api import DevpiApi
from harness.clients import DevpiClient, Venv, pip_install
from harness.dists import Project, make_sdist, repack_installed
from harness.server import ROOT_PASSWORD, DevpiServer

if TYPE_CHECKING:
    from collections.abc import Iterator

from devpi_buildfarm.core.targets import host_target

BINDIR = Path(sys.executable).parent
TARGET, POLICY = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
PASSWORD = "bob-pw"  # noqa: S105 - a throw-away test user


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevpiServer, DevpiApi]]:
    work = tmp_path_factory.mktemp("buildfarm")
    server = DevpiServer(
        work / "serverdir",
        BINDIR,
        args=("--buildfarm-workers", "1", "--buildfarm-max-attempts", "1"),
    ).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index("root/tools", bases=[])
        wheels = [
            str(repack_installed(dist, work / "tools"))
            for dist in ("setuptools", "wheel", "packaging")
        ]
        devpi = DevpiClient(work / "root-client").use_login(server.url, "root", ROOT_PASSWORD)
        devpi("use", "root/tools")
        devpi("upload", *wheels)
        api = DevpiApi(server.url)
        api.create_user("bob", PASSWORD)
        api = api.login("bob", PASSWORD)
        api.create_index("bob/dev", bases=["root/tools"], buildfarm_targets=[TARGET])
        yield server, api
    finally:
        server.stop()


def wait_for(api: DevpiApi, index: str, project: str, timeout: float = 240) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = api.ok("GET", f"{index}/+buildfarm/jobs?project={project}")
        if jobs and all(
            j["state"] in ("succeeded", "failed", "cancelled", "skipped") for j in jobs
        ):
            return list(jobs)
        time.sleep(1)
    msg = f"jobs of {project} not done within {timeout} s: {jobs}"
    raise AssertionError(msg)


def test_sdist_upload_leads_to_an_installable_manylinux_wheel(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    project = Project("ext-demo", "1.0", c_extension=True)
    sdist = make_sdist(tmp_path, project)
    devpi = DevpiClient(tmp_path / "client").use_login(server.url, "bob", PASSWORD)
    devpi("use", "bob/dev")
    devpi("upload", str(sdist))
    (job,) = wait_for(api, "bob/dev", "ext-demo")
    log = api.request("GET", f"bob/dev/+buildfarm/jobs/{job['id']}/log").body.decode()
    assert job["state"] == "succeeded", log[-3000:]
    assert job["target"] == TARGET
    assert "manylinux" in job["wheel"]
    assert set(job["timings"]) >= {"fetch", "deps", "build", "repair", "verify", "smoke", "publish"}
    venv = Venv.create(tmp_path / "venv")
    pip_install(
        venv,
        tmp_path / "pip",
        f"{server.url}/bob/dev/+simple/",
        "--only-binary",
        ":all:",
        "ext-demo",
    )
    assert (
        venv.import_(
            "ext_demo._speedups", tmp_path / "pip", "print(ext_demo._speedups.answer())"
        ).strip()
        == "42"
    )
    links = api.ok("GET", "bob/dev/ext-demo/1.0")["+links"]
    (wheel_link,) = [link for link in links if link["href"].endswith(".whl")]
    assert any(entry.get("job") == job["id"] for entry in wheel_link["log"])
