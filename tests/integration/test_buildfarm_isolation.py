"""Without bubblewrap the local backend refuses to build unless ``--buildfarm-allow-unisolated``
is set; then the build record says ``isolation: none`` and ``/+status`` warns."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from devpi_buildfarm.core.targets import host_target
from harness.api import DevpiApi
from harness.buildfarm import upload_with_tools
from harness.clients import DevpiClient
from harness.dists import Project
from harness.server import ROOT_PASSWORD, DevpiServer

BINDIR = Path(sys.executable).parent
TARGET, _ = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
WARNING = "local builds run WITHOUT isolation"


def path_without_bwrap(dest: Path) -> str:
    """A PATH with every program of this machine except bwrap."""
    dest.mkdir()
    for folder in os.environ.get("PATH", "/usr/bin").split(os.pathsep):
        if not Path(folder).is_dir():
            continue
        for program in Path(folder).iterdir():
            link = dest / program.name
            if program.name != "bwrap" and not link.exists():
                link.symlink_to(program)
    return f"{BINDIR}{os.pathsep}{dest}"


def wait_final(api: DevpiApi, project: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = api.ok("GET", f"root/dev/+buildfarm/jobs?project={project}")
        if jobs and jobs[0]["state"] in ("succeeded", "failed"):
            return dict(jobs[0])
        time.sleep(0.5)
    msg = f"no final job for {project}"
    raise AssertionError(msg)


def test_unisolated_builds_are_refused_unless_allowed_and_then_warned(tmp_path: Path) -> None:
    env = {"PATH": path_without_bwrap(tmp_path / "bin")}
    args = ("--buildfarm-max-attempts", "1")
    server = DevpiServer(tmp_path / "serverdir", BINDIR, args=args, env=env).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index("root/dev", bases=[], buildfarm_targets=[TARGET])
        upload_with_tools(server, tmp_path, "root/dev", Project("pure-demo", "1.0"))
        job = wait_final(root, "pure-demo")
        assert job["state"] == "failed"
        assert "bubblewrap (bwrap) is not installed" in job["error"]
        assert "--buildfarm-allow-unisolated" in job["error"]
        assert root.ok("GET", "root/dev/pure-demo/1.0")["+links"][-1]["href"].endswith(".tar.gz")
        page = root.request("GET", "+status", headers={"Accept": "text/html"}).body.decode()
        assert "bubblewrap is missing, so local builds are refused" in page
        assert WARNING not in page

        server.stop()
        server = replace(server, args=(*args, "--buildfarm-allow-unisolated"), proc=None).start()
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        devpi = DevpiClient(tmp_path / "client").use_login(server.url, "root", ROOT_PASSWORD)
        devpi("use", "root/dev")
        devpi("build", "retry", str(job["id"]))
        job = wait_final(root, "pure-demo")
        log_path = f"root/dev/+buildfarm/jobs/{job['id']}/log"
        log = root.request("GET", log_path, headers={"Accept": "text/plain"}).body.decode()
        assert job["state"] == "succeeded", log[-3000:]
        assert job["isolation"].startswith("none ")  # exactly what held: nothing but a timeout
        assert "isolation: none timeout=" in devpi("build", "show", str(job["id"])).stdout
        page = root.request("GET", "+status", headers={"Accept": "text/html"}).body.decode()
        assert WARNING in page
        metrics = {name: value for name, _, value in server.status()["metrics"]}
        assert metrics["devpi_buildfarm_unisolated"] == 1
    finally:
        server.stop()


def test_a_relative_serverdir_builds_as_an_absolute_one_and_leaves_no_job_dir(
    tmp_path: Path,
) -> None:
    # devpi-init gets the absolute path; the server itself the relative one (last wins)
    args = ("--serverdir", "serverdir", "--buildfarm-max-attempts", "1")
    server = DevpiServer(tmp_path / "serverdir", BINDIR, args=args, cwd=tmp_path).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index("root/dev", bases=[], buildfarm_targets=[TARGET])
        upload_with_tools(server, tmp_path, "root/dev", Project("rel-demo", "1.0"))
        job = wait_final(root, "rel-demo")
        assert job["state"] == "succeeded", job["error"]
        assert job["isolation"].startswith("bubblewrap(")
        assert list((tmp_path / "serverdir" / ".buildfarm" / "jobs").iterdir()) == []
    finally:
        server.stop()
