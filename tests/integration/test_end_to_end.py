"""One path through the whole product as a user walks it: upload, install, mirror."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from harness.clients import (
    DevpiClient,
    Venv,
    assert_all_from,
    pip_install,
    report_urls,
    twine_upload,
    uv_pip_install,
)
from harness.dists import Project, make_sdist, make_wheel
from integration.conftest import ALICE_PW, Site

if TYPE_CHECKING:
    from pathlib import Path


def test_upload_with_devpi_and_twine_then_pip_install(
    site: Site, devpi: DevpiClient, home: Path, tmp_path: Path
) -> None:
    project = Project("e2e-demo", "1.0", {"Summary": "end-to-end demo"})
    sdist = make_sdist(tmp_path / "dist", project)
    wheel = make_wheel(tmp_path / "dist", project)
    out = devpi("upload", str(sdist)).stdout
    assert "file_upload of e2e_demo-1.0.tar.gz" in out
    twine_upload(home, f"{site.url}/alice/dev/", "alice", ALICE_PW, wheel)

    links = site.alice.ok("GET", "alice/dev/e2e-demo/1.0")["+links"]
    assert sorted(link["href"].rsplit("/", 1)[1] for link in links) == sorted(
        [sdist.name, wheel.name]
    )

    venv = Venv.create(tmp_path / "venv")
    _, report = pip_install(venv, home, site.simple("alice/dev"), "e2e-demo==1.0")
    assert_all_from(report, site.url)
    assert report_urls(report)["e2e-demo"].endswith(wheel.name)
    assert venv.import_("e2e_demo", home, "print(e2e_demo.VERSION)").strip() == "1.0"


def test_pip_install_through_the_mirror(site: Site, home: Path, tmp_path: Path) -> None:
    venv = Venv.create(tmp_path / "venv")
    _, report = pip_install(venv, home, site.simple("root/pypi"), "up-app")
    assert_all_from(report, site.url)
    assert set(report_urls(report)) == {"up-app", "up-dep"}
    assert "/root/pypi/+f/" in unquote(report_urls(report)["up-dep"])


def test_inheriting_index_serves_the_newest_mirrored_version_to_uv(
    site: Site, home: Path, tmp_path: Path
) -> None:
    venv = Venv.create(tmp_path / "venv")
    res = uv_pip_install(venv, home, site.simple("alice/dev"), "up-pure")
    assert "up-pure==2.0" in res.stderr
    assert venv.import_("up_pure", home, "print(up_pure.VERSION)").strip() == "2.0"
