"""License rules on uploads against a real server: twine and devpi upload show the reason;
the license comes from the uploaded wheel's or sdist's metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.clients import twine_upload
from harness.dists import Project, make_sdist, make_wheel

from .conftest import ALICE_PW

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from harness.clients import DevpiClient

    from .conftest import Site


def said(res: subprocess.CompletedProcess[str]) -> str:
    """What a client printed, with twine's line wrapping undone."""
    return " ".join((res.stdout + res.stderr).split())


def test_denied_licenses_are_refused_at_upload(site: Site, home: Path, tmp_path: Path) -> None:
    site.alice.create_index("alice/lic", bases=[], license_deny=["AGPL-*"], license_unknown="deny")
    url = f"{site.url}/alice/lic/"
    agpl = make_wheel(tmp_path, Project("agpl-lib", "1.0", {"License-Expression": "AGPL-3.0-only"}))
    res = twine_upload(home, url, "alice", ALICE_PW, agpl, check=False)
    assert res.returncode != 0
    assert (
        "policy: 'agpl-lib 1.0' license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*' "
        "on alice/lic" in said(res)
    )
    unknown = make_sdist(tmp_path, Project("mystery", "1.0"))
    res = twine_upload(home, url, "alice", ALICE_PW, unknown, check=False)
    assert "license is unknown, refused by license_unknown 'deny' on alice/lic" in said(res)
    fine = make_sdist(tmp_path, Project("fine", "1.0", {"License": "MIT License"}))
    twine_upload(home, url, "alice", ALICE_PW, fine)
    assert site.alice.ok("GET", "alice/lic/fine/1.0")["+links"]


def test_devpi_upload_prints_the_reason(site: Site, devpi: DevpiClient, tmp_path: Path) -> None:
    site.alice.create_index("alice/lic2", bases=[], license_allow=["MIT", "BSD-*"])
    devpi("use", "alice/lic2")
    classifier = "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)"
    gpl = make_wheel(tmp_path, Project("gpl-lib", "2.0", {"Classifier": classifier}))
    res = devpi("upload", str(gpl), check=False)
    assert res.returncode != 0
    assert "license 'GPL-3.0-or-later' is not in license_allow 'MIT, BSD-*' on alice/lic2" in (
        said(res)
    )


def test_push_is_checked_with_the_license_stored_at_upload(
    site: Site, devpi: DevpiClient, tmp_path: Path
) -> None:
    """``devpi push`` carries no file content: the license recorded in the source index's
    versiondata decides under the target's rules."""
    site.alice.create_index("alice/licfree", bases=[])
    site.alice.create_index("alice/licstrict", bases=[], license_deny=["AGPL-*"])
    agpl = make_wheel(
        tmp_path, Project("pushed-agpl", "1.0", {"License-Expression": "AGPL-3.0-only"})
    )
    mit = make_wheel(tmp_path, Project("pushed-mit", "1.0", {"License-Expression": "MIT"}))
    twine_upload(tmp_path / "h", f"{site.url}/alice/licfree/", "alice", ALICE_PW, agpl, mit)
    devpi("use", "alice/licfree")
    res = devpi("push", "pushed-agpl==1.0", "alice/licstrict", check=False)
    assert res.returncode != 0
    assert (
        "'pushed-agpl 1.0' license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*' on "
        "alice/licstrict" in said(res)
    )
    devpi("push", "pushed-mit==1.0", "alice/licstrict")
    pushed = site.alice.ok("GET", "alice/licstrict/pushed-mit/1.0")
    assert pushed["license_spdx"] == "MIT"
