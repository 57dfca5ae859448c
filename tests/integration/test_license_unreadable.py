"""Files the bounded reader refuses never slip past a license rule (issue 15, item 3).

On the session's server (as alice, with twine and devpi): a wheel with one symlink member,
whose METADATA names AGPL-3.0-only or MIT. Under ``license_deny`` the AGPL one is refused
as denied (its METADATA is still read, alone); under ``license_allow=MIT`` the MIT one is
refused as unreadable with the reader's reason, and nothing is stored; only an index
setting both ``license_unreadable=allow`` and ``license_unknown=allow`` accepts it, and
``devpi license show`` and ``+license`` then say ``unreadable`` and why.
"""

from __future__ import annotations

import zipfile
from typing import TYPE_CHECKING

from harness.clients import DevpiClient, twine_upload
from harness.dists import Project, make_wheel
from harness.sideeffects import unchanged
from integration.conftest import ALICE_PW

if TYPE_CHECKING:
    from pathlib import Path

    from integration.conftest import Site


def _wheel_with_symlink(dest: Path, name: str, license_expression: str) -> Path:
    wheel = make_wheel(dest, Project(name, "1.0", {"License-Expression": license_expression}))
    with zipfile.ZipFile(wheel, "a") as zf:
        link = zipfile.ZipInfo(f"{name.replace('-', '_')}/passwd")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    return wheel


def _upload(site: Site, home: Path, index: str, wheel: Path) -> str:
    """Upload with twine, which must fail; leaves the server unchanged; twine's output."""
    with unchanged(site.server, f"refused upload of {wheel.name}"):
        res = twine_upload(home, f"{site.url}/{index}/", "alice", ALICE_PW, wheel, check=False)
    assert res.returncode != 0
    return " ".join((res.stdout + res.stderr).split())


def test_a_denied_license_in_an_unreadable_wheel_is_refused_as_denied(
    site: Site, home: Path, tmp_path: Path
) -> None:
    site.alice.create_index("alice/unr-deny", bases=[], license_deny=["AGPL-*"])
    wheel = _wheel_with_symlink(tmp_path, "unr-agpl", "AGPL-3.0-only")
    out = _upload(site, home, "alice/unr-deny", wheel)
    assert "license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*' on alice/unr-deny" in out
    assert site.alice.ok("GET", "alice/unr-deny")["projects"] == []


def test_an_unreadable_wheel_is_refused_under_any_license_rule(
    site: Site, home: Path, tmp_path: Path
) -> None:
    site.alice.create_index("alice/unr-allow", bases=[], license_allow=["MIT"])
    wheel = _wheel_with_symlink(tmp_path, "unr-mit", "MIT")
    out = _upload(site, home, "alice/unr-allow", wheel)
    assert "could not be read" in out
    assert "links are not allowed" in out
    assert "refused unless license_unreadable and license_unknown are 'allow'" in out
    # license_unreadable=allow alone does not let it through: license_unknown must say so too
    site.alice.modify_index("alice/unr-allow", license_unreadable="allow")
    assert "could not be read" in _upload(site, home, "alice/unr-allow", wheel)
    assert site.alice.ok("GET", "alice/unr-allow")["projects"] == []


def test_both_options_let_it_through_and_it_shows_as_unreadable(
    site: Site, home: Path, tmp_path: Path
) -> None:
    site.alice.create_index(
        "alice/unr-open", bases=[], license_allow=["MIT"], license_unknown="allow",
        license_unreadable="allow",
    )  # fmt: skip
    wheel = _wheel_with_symlink(tmp_path, "unr-open", "MIT")
    twine_upload(home, f"{site.url}/alice/unr-open/", "alice", ALICE_PW, wheel)
    result = site.alice.ok("GET", "alice/unr-open/unr-open/1.0/+license")
    assert result["state"] == "unreadable"
    assert result["expression"] == "MIT"
    assert any("links are not allowed" in why for why in result["unreadable"])
    assert result["verdict"]["state"] == "unreadable"
    assert result["verdict"]["refused"] is False
    assert "allowed by license_unreadable 'allow'" in result["verdict"]["reason"]
    devpi = DevpiClient(home).use_login(site.url, "alice", ALICE_PW)
    devpi("use", "alice/unr-open")
    shown = devpi("license", "show", "unr-open==1.0").stdout
    assert "unreadable" in shown
    assert "links are not allowed" in shown
