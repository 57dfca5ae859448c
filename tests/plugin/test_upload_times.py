"""Upload times of private files (adapters/upload_times.py) in an in-process devpi-server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from devpi_policy.adapters import upload_times

pytestmark = pytest.mark.notransaction
OLD = (2025, 1, 2, 3, 4, 5)


def _times(xom: Any, index: str, project: str) -> dict[str, upload_times.FileTime]:
    with xom.keyfs.read_transaction():
        return upload_times.project_times(xom.model.getstage(index), project)


def test_first_upload_log_entry_and_built_wheels_take_their_sdists_time(
    mapp: Any, xom: Any
) -> None:
    api = mapp.create_and_use()
    mapp.upload_file_pypi("timed-1.0.tar.gz", b"sdist", "timed", "1.0")
    with xom.keyfs.write_transaction():
        stage = xom.model.getstage(api.stagename)
        built = stage.store_releasefile("timed", "1.0", "timed-1.0-py3-none-any.whl", b"wheel")
        built.add_log("upload", "builder", when=OLD)  # its own upload: not its time
        built.add_log("build", "devpi-buildfarm", sdist="timed-1.0.tar.gz")
        other = stage.store_releasefile("timed", "1.0", "timed-1.0-py2-none-any.whl", b"w2")
        other.add_log("upload", "someone", when=OLD)
    times = _times(xom, api.stagename, "timed")
    sdist = times["timed-1.0.tar.gz"]
    assert sdist.uploaded is not None
    assert abs((datetime.now(UTC) - sdist.uploaded).total_seconds()) < 600
    assert sdist.size == len(b"sdist")
    assert times["timed-1.0-py3-none-any.whl"].uploaded == sdist.uploaded
    assert times["timed-1.0-py3-none-any.whl"].size == len(b"wheel")
    assert times["timed-1.0-py2-none-any.whl"].uploaded == datetime(*OLD, tzinfo=UTC)
    assert times["timed-1.0-py2-none-any.whl"].upload_time == "2025-01-02T03:04:05.000000Z"


def test_a_file_without_upload_log_has_no_time(mapp: Any, xom: Any) -> None:
    api = mapp.create_and_use()
    with xom.keyfs.write_transaction():
        stage = xom.model.getstage(api.stagename)
        stage.set_versiondata({"name": "nolog", "version": "1.0"})
        stage.store_releasefile("nolog", "1.0", "nolog-1.0.tar.gz", b"x")
    found = _times(xom, api.stagename, "nolog")["nolog-1.0.tar.gz"]
    assert found.uploaded is None
    assert found.upload_time is None
