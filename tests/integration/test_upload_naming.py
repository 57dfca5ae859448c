"""Uploads whose core metadata names another release are refused (issue 15, item 4).

On the session's server, as alice, on an index with a rule (``policy_exclude=evil-*``):
a wheel named good-1.0 whose METADATA says evil-pkg (twine, and devpi upload), an sdist
whose PKG-INFO says version 2.0, and a raw form naming another project than the file are
each refused with a message naming all three sources, and nothing is stored; a
consistent upload passes. (devpi itself refuses a form whose name differs from the file
name's with 400 on every index; the core metadata it does not read.)
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from typing import TYPE_CHECKING

from harness.api import upload_form
from harness.clients import DevpiClient, twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.sideeffects import unchanged
from integration.conftest import ALICE_PW

if TYPE_CHECKING:
    from pathlib import Path

    from integration.conftest import Site

INDEX = "alice/naming"
MUST = "must name the same project and version"


def _lying_wheel(dest: Path) -> Path:
    """good-1.0-py3-none-any.whl whose METADATA names evil-pkg 1.0."""
    honest = make_wheel(dest / "evil", Project("evil-pkg", "1.0"))
    target = dest / "good-1.0-py3-none-any.whl"
    with zipfile.ZipFile(honest) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            name = info.filename.replace("evil_pkg-1.0.dist-info", "good-1.0.dist-info")
            out.writestr(name, src.read(info))
    return target


def _sdist_with_version(dest: Path, version: str) -> Path:
    """good-1.0.tar.gz whose PKG-INFO says ``version``."""
    honest = make_sdist(dest / "sdist", Project("good", "1.0"))
    target = dest / "good-1.0.tar.gz"
    with tarfile.open(honest) as src, tarfile.open(target, "w:gz") as out:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else b""  # type: ignore[union-attr]
            if info.name.endswith("/PKG-INFO") and info.name.count("/") == 1:
                data = data.replace(b"Version: 1.0", f"Version: {version}".encode())
                info.size = len(data)
            out.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return target


def test_twine_upload_of_a_wheel_whose_metadata_names_another_project(
    site: Site, home: Path, tmp_path: Path
) -> None:
    site.alice.create_index(INDEX, bases=[], policy_exclude=["evil-*"])
    wheel = _lying_wheel(tmp_path)
    with unchanged(site.server, "lying wheel"):
        res = twine_upload(home, f"{site.url}/{INDEX}/", "alice", ALICE_PW, wheel, check=False)
    out = " ".join((res.stdout + res.stderr).split())
    assert res.returncode != 0
    assert "'good-1.0-py3-none-any.whl' names different releases" in out
    assert "core metadata 'evil-pkg' '1.0'" in out
    assert MUST in out
    assert site.alice.ok("GET", INDEX)["projects"] == []


def test_devpi_upload_of_an_sdist_whose_pkg_info_names_another_version(
    site: Site, home: Path, tmp_path: Path
) -> None:
    site.alice.create_index(f"{INDEX}2", bases=[], policy_exclude=["evil-*"])
    sdist = _sdist_with_version(tmp_path, "2.0")
    devpi = DevpiClient(home).use_login(site.url, "alice", ALICE_PW)
    devpi("use", f"{INDEX}2")
    with unchanged(site.server, "lying sdist"):
        res = devpi("upload", "--formats", "sdist", str(sdist), check=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "403 FAIL file_upload of good-1.0.tar.gz" in out
    assert "core metadata 'good' '2.0'" in out
    assert site.alice.ok("GET", f"{INDEX}2")["projects"] == []
    honest = make_sdist(tmp_path / "honest", Project("good", "1.0"))
    devpi("upload", str(honest))
    assert site.alice.ok("GET", f"{INDEX}2")["projects"] == ["good"]


def test_raw_form_naming_another_project_than_the_file(site: Site, tmp_path: Path) -> None:
    site.alice.create_index(f"{INDEX}3", bases=[], policy_exclude=["evil-*"])
    wheel = make_wheel(tmp_path, Project("good", "1.0"))
    fields = [(":action", "file_upload"), ("name", "other"), ("version", "1.0")]
    body, headers = upload_form(fields, wheel)
    with unchanged(site.server, "form naming another project"):
        reply = site.alice.request("POST", f"{INDEX}3/", body=body, headers=headers)
    assert reply.status == 403
    assert "upload form 'other' '1.0'" in reply.reason
    assert MUST in reply.reason
