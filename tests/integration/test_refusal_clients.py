"""What real pip and uv print when the rules refuse a project, a release, a file or a
license (docs/policy.md, "What pip and uv show").

* A refused download (a pinned URL, e.g. from a lock file) is HTTP 403 whose reason phrase
  is the rule: pip and uv both print it.
* What the rules hide from an index's pages pip and uv never see: they say there is no
  such version (pip: ``from versions: ...``, uv: ``no version of ...``). Neither shows a
  reason for a page answered 403, nor a PEP 792 project status (checked by hand with
  pip 26.3 and uv 0.13.8); ``devpi policy check`` is where the reason is. These tests
  assert that too, so a client that starts showing more is noticed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from harness.clients import (
    Venv,
    pip_download,
    pip_install,
    run,
    twine_upload,
    uv_pip_install,
)
from harness.dists import Project, make_sdist, make_wheel
from integration.conftest import ALICE_PW, Site

if TYPE_CHECKING:
    from pathlib import Path

INDEX = "alice/refusals"
OLD = Project("ref-pkg", "1.0", {"License-Expression": "MIT"})
NEW = Project("ref-pkg", "2.0", {"License-Expression": "GPL-3.0-only"})
#: refusal kind -> (index options, the reason the 2.0 wheel's download must carry)
KINDS: dict[str, tuple[dict[str, Any], str]] = {
    "name": ({"policy_exclude": ["ref-pkg"]}, "policy_exclude 'ref-pkg'"),
    "version": ({"policy_exclude": ["ref-pkg>=2"]}, "policy_exclude 'ref-pkg>=2'"),
    "file": ({"policy_exclude_files": ["*-py3-none-any.whl"]},
             "policy_exclude_files '*-py3-none-any.whl'"),
    "license": ({"license_deny": ["GPL-*"]}, "license_deny 'GPL-*'"),
}  # fmt: skip
#: the start of each reason: the subject (the file name for file rules)
SUBJECT = {"file": "'ref_pkg-2.0-py3-none-any.whl' is excluded by",
           "license": "'ref-pkg 2.0' license 'GPL-3.0-only' is denied by"}  # fmt: skip
NO_RULES = {"policy_exclude": [], "policy_exclude_files": [], "license_deny": []}


@pytest.fixture(scope="module")
def wheel_url(site: Site, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``INDEX`` with ref-pkg 1.0 and 2.0 (wheels and sdists); the URL of 2.0's wheel, as a
    lock file written before any rule would pin it."""
    base = tmp_path_factory.mktemp("refusals")
    site.alice.create_index(INDEX, bases=[], volatile=True)
    files = [make(base, p) for p in (OLD, NEW) for make in (make_wheel, make_sdist)]
    twine_upload(base / "home", f"{site.url}/{INDEX}/", "alice", ALICE_PW, *files)
    links = site.alice.ok("GET", f"{INDEX}/ref-pkg/2.0")["+links"]
    return str(next(link["href"] for link in links if link["href"].endswith(".whl")))


@pytest.mark.parametrize("kind", list(KINDS))
def test_pip_and_uv_show_the_reason_of_a_refused_download(
    site: Site, wheel_url: str, kind: str, tmp_path: Path, home: Path
) -> None:
    options, rule = KINDS[kind]
    subject = SUBJECT.get(kind, "'ref-pkg 2.0' is excluded by")
    reason = f"policy: {subject} {rule} on {INDEX}"
    site.alice.modify_index(INDEX, **{**NO_RULES, **options})
    simple = site.simple(INDEX)
    venv = Venv.create(tmp_path / "venv")

    pinned = pip_download(tmp_path / "dl", home, simple, wheel_url, check=False)
    assert pinned.returncode != 0
    assert "HTTP error 403" in pinned.stdout + pinned.stderr
    assert reason in pinned.stdout + pinned.stderr
    assert not list((tmp_path / "dl").glob("*.whl"))  # nothing was downloaded
    uv_pinned = uv_pip_install(venv, home, simple, wheel_url, check=False)
    assert uv_pinned.returncode != 0
    assert f"403 {reason}" in uv_pinned.stdout + uv_pinned.stderr

    # through the index: the refused release is not there, and neither client says why
    resolved, report = pip_install(
        venv, home, simple, "--only-binary", ":all:", "ref-pkg==2.0", check=False
    )
    said = resolved.stdout + resolved.stderr
    assert resolved.returncode != 0
    assert not report.get("install")
    versions = "1.0" if kind in ("version", "license") else "none"  # binary-only: wheels
    assert f"(from versions: {versions})" in said
    assert "excluded" not in said
    assert "denied" not in said
    uv_res = uv_pip_install(venv, home, simple, "--only-binary", ":all:", "ref-pkg==2.0",
                            check=False)  # fmt: skip
    assert uv_res.returncode != 0
    assert "excluded" not in uv_res.stderr
    assert "denied" not in uv_res.stderr
    names = "import importlib.metadata as m; print([d.metadata['Name'] for d in m.distributions()])"
    # from tmp_path: python -c puts the working directory (a checkout's egg-info) on sys.path
    listed = run([str(venv.python), "-c", names], home, cwd=tmp_path).stdout
    assert listed.strip() == "[]"  # nothing of ref-pkg was installed
