"""An uploaded sdist's builds are queued when its upload commits, in the request's thread:
devpi's event thread (not running in this in-process server) is not needed for it, and
may wait five seconds when it looks for the file before devpi moved it into place."""

from __future__ import annotations

import platform
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

import devpi_buildfarm.hooks
import devpi_license.hooks
import devpi_policy.hooks
from devpi_buildfarm.adapters import service
from devpi_buildfarm.core.targets import host_target
from harness.dists import Project, make_sdist

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.notransaction
TARGET, _ = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())


@pytest.fixture
def xom(makexom: Any) -> Any:
    """Queue only (``--buildfarm-workers 0``): nothing is built in the test's process."""
    plugins = [devpi_policy.hooks, devpi_buildfarm.hooks, devpi_license.hooks]
    xom = makexom(["--buildfarm-workers", "0"], plugins=plugins)
    yield xom
    farm = service.existing_farm(xom)
    if farm is not None:
        farm.stopping.set()
    xom.keyfs.release_all_wait_tx()


def upload_sdist(mapp: Any, tmp_path: Path, name: str, code: int = 200) -> Any:
    sdist = make_sdist(tmp_path, Project(name, "1.0"))
    return mapp.upload_file_pypi(sdist.name, sdist.read_bytes(), name, "1.0", code=code)


def queued(xom: Any, project: str, within: float = 30.0) -> list[Any]:
    """The project's jobs, once there are some (the upload's commit starts a thread)."""
    deadline = time.monotonic() + within
    while True:
        farm = service.existing_farm(xom)
        jobs = farm.queue.list_jobs(project=project) if farm is not None else []
        if jobs or time.monotonic() > deadline:
            return jobs
        time.sleep(0.05)


def test_the_build_is_queued_when_the_upload_commits(xom: Any, mapp: Any, tmp_path: Path) -> None:
    mapp.create_and_login_user("alice")
    mapp.create_index("alice/dev", indexconfig={"buildfarm_targets": [TARGET]})
    upload_sdist(mapp, tmp_path, "queued-at-once")
    jobs = queued(xom, "queued-at-once")
    assert [(j.spec.index, j.spec.target, str(j.state)) for j in jobs] == [
        ("alice/dev", TARGET, "queued")
    ]
    # devpi's event thread calls the same hook later: the queue still holds one job
    with xom.keyfs.read_transaction():
        stage = xom.model.getstage("alice/dev")
        (link,) = [
            lnk for lnk in stage.get_releaselinks("queued-at-once") if lnk.basename.endswith("gz")
        ]
        service.on_upload(stage, "queued-at-once", "1.0", link)
    assert len(queued(xom, "queued-at-once")) == 1


def test_a_refused_upload_queues_nothing(xom: Any, mapp: Any, tmp_path: Path) -> None:
    mapp.create_and_login_user("bob")
    mapp.create_index(
        "bob/dev", indexconfig={"buildfarm_targets": [TARGET], "policy_exclude": ["evil-*"]}
    )
    upload_sdist(mapp, tmp_path, "evil-thing", code=403)
    upload_sdist(mapp, tmp_path, "good-thing")  # queued after the refused one, if it were
    assert len(queued(xom, "good-thing")) == 1
    assert queued(xom, "evil-thing", within=0) == []
