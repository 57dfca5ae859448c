"""The launcher's mount point: made once per farm, safe when sessions start together."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from devpi_buildfarm.adapters.limits import Confinement


@pytest.fixture
def confinement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Confinement:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return Confinement(allow_unisolated=True, scope=f"t{uuid.uuid4().hex[:8]}")


@pytest.mark.skipif(os.geteuid() != 0, reason="the shared mount point is root's")
def test_a_session_starting_at_the_same_moment_shares_the_mount_point(
    confinement: Confinement, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two builds started together: one failed with "[Errno 17] File exists" when the other
    # made the directory between its look and its mkdir (tests/integration/
    # test_buildfarm_crossarch.py, local backend, i686 beside aarch64)
    real_mkdir = Path.mkdir

    def other_session_first(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.name.startswith("devpi-buildfarm-mnt-") and not self.exists():
            real_mkdir(self, 0o755)  # the other session, a moment earlier
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", other_session_first)
    stage = confinement._stage_dir()  # noqa: SLF001
    assert stage.name == f"devpi-buildfarm-mnt-{confinement.scope}"
    assert stage.is_dir()


def test_a_planted_link_is_not_used(confinement: Confinement, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    planted = tmp_path / f"devpi-buildfarm-mnt-{confinement.scope}"
    planted.symlink_to(target)
    stage = confinement._stage_dir()  # noqa: SLF001
    assert stage != planted
    assert not stage.is_symlink()
    assert list(target.iterdir()) == []
