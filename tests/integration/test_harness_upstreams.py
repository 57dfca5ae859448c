"""The harness's other upstreams and builders, exercised through devpi as users would."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.clients import Venv, assert_all_from, pip_install, report_urls, twine_upload
from harness.dists import Project, build_wheel, make_sdist, make_wheel
from harness.pep691 import JSON_TYPE, UpstreamFile
from integration.conftest import ALICE_PW, Site

if TYPE_CHECKING:
    from pathlib import Path

    from harness.pep691 import Pep691Server


def test_mirror_of_a_pep691_upstream_with_upload_times(
    site: Site, pep691_upstream: Pep691Server, home: Path, tmp_path: Path
) -> None:
    dists = tmp_path / "dists"
    pep691_upstream.projects["timed-pkg"] = [
        UpstreamFile(make_wheel(dists, Project("timed-pkg", "1.0")), "2020-01-02T03:04:05Z"),
        UpstreamFile(make_wheel(dists, Project("timed-pkg", "2.0")), "2026-01-02T03:04:05Z"),
    ]
    page = site.root.request("GET", f"{pep691_upstream.simple_url}timed-pkg/",
                             headers={"Accept": JSON_TYPE}).json()  # fmt: skip
    assert [f["upload-time"] for f in page["files"]] == [
        "2020-01-02T03:04:05Z",
        "2026-01-02T03:04:05Z",
    ]
    site.root.create_index("root/timed", type="mirror", mirror_url=pep691_upstream.simple_url)
    venv = Venv.create(tmp_path / "venv")
    _, report = pip_install(venv, home, site.simple("root/timed"), "timed-pkg")
    assert_all_from(report, site.url)
    assert report_urls(report)["timed-pkg"].endswith("timed_pkg-2.0-py3-none-any.whl")
    assert any(path.startswith("/simple/timed-pkg/") for path in pep691_upstream.requests)


def test_c_extension_sdist_builds_uploads_and_imports(
    site: Site, home: Path, tmp_path: Path
) -> None:
    project = Project("cext-demo", "1.0", c_extension=True)
    sdist = make_sdist(tmp_path / "dists", project)
    wheel = build_wheel(sdist, tmp_path / "wheels", home)
    assert "-cp311-cp311-linux_x86_64.whl" in wheel.name
    twine_upload(home, f"{site.url}/alice/dev/", "alice", ALICE_PW, sdist, wheel)
    venv = Venv.create(tmp_path / "venv")
    _, report = pip_install(
        venv, home, site.simple("alice/dev"), "--only-binary", ":all:", "cext-demo"
    )
    assert_all_from(report, site.url)
    out = venv.import_("cext_demo._speedups", home, "print(cext_demo._speedups.answer())")
    assert out.strip() == "42"
