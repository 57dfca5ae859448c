"""Set-up shared by the build-farm tests: the build tools every build needs, on an index."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from harness.api import DevpiApi
from harness.clients import DevpiClient, twine_upload
from harness.dists import Project, make_sdist, repack_installed
from harness.server import ROOT_PASSWORD

if TYPE_CHECKING:
    from pathlib import Path

    from harness.server import DevpiServer

#: what a setuptools build asks for (repacked from this venv: no network needed)
BUILD_TOOLS = ("setuptools", "wheel", "packaging")


def tool_wheels(dest: Path) -> list[Path]:
    """Wheels of :data:`BUILD_TOOLS`, repacked from the running venv."""
    return [repack_installed(dist, dest) for dist in BUILD_TOOLS]


def seed_tools(server: DevpiServer, work: Path, index: str = "root/tools") -> DevpiApi:
    """``index`` (made by root) holding the build tools; root's API client."""
    root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
    root.create_index(index, bases=[])
    devpi = DevpiClient(work / "root-client").use_login(server.url, "root", ROOT_PASSWORD)
    devpi("use", index)
    devpi("upload", *map(str, tool_wheels(work / "tools")))
    return root


def upload_with_tools(server: DevpiServer, work: Path, index: str, project: Project) -> None:
    """The build tools and ``project``'s sdist, uploaded by root to ``index``."""
    sdist = make_sdist(work / "dists", project)
    twine_upload(work / "home", f"{server.url}/{index}/", "root", ROOT_PASSWORD,
                 *tool_wheels(work / "tools"), sdist)  # fmt: skip


FINAL = ("succeeded", "failed", "cancelled", "skipped")


def wait_for(api: DevpiApi, index: str, project: str, timeout: float = 240) -> list[dict[str, Any]]:
    """The jobs of ``project`` on ``index`` once all are final."""
    deadline = time.monotonic() + timeout
    jobs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        jobs = api.ok("GET", f"{index}/+buildfarm/jobs?project={project}")
        if jobs and all(j["state"] in FINAL for j in jobs):
            return list(jobs)
        time.sleep(0.5)
    msg = f"jobs of {project} not done within {timeout} s: {jobs}"
    raise AssertionError(msg)


def target_rows(client: DevpiClient, index: str) -> dict[str, str]:
    """``devpi build targets`` of ``index``: each target's line (builder, backend, policy,
    whether it runs), by target."""
    out = client("build", "targets", "--index", index).stdout
    rows = [line.strip() for line in out.splitlines() if line.startswith("  cp3")]
    return {row.split()[0]: row for row in rows}


def upload_and_build(  # noqa: PLR0913 - who uploads what where, and how long to wait
    client: DevpiClient, api: DevpiApi, index: str, sdist: Path, project: str, *,
    timeout: float = 400,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Upload ``sdist`` to ``index``; its final jobs by target."""
    client("use", index)
    client("upload", str(sdist))
    return {job["target"]: job for job in wait_for(api, index, project, timeout=timeout)}
