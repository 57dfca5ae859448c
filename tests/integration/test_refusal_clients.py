"""What real pip and uv print when the rules refuse a project, a release, a file or a
license (docs/policy.md, "What pip and uv show").

* A refused download (a pinned URL, e.g. from a lock file) is HTTP 403 whose reason phrase
  is the rule: pip and uv both print it.
* What the rules hide from an index's pages pip and uv never see: they say there is no
  such version (pip: ``from versions: ...``, uv: ``no version of ...``). Neither shows a
  reason for a page answered 403, nor a PEP 792 project status (checked by hand with
  pip 26.3 and uv 0.13.8 against a stand-in server); ``devpi policy check`` is where the
  reason is. These tests assert that too, so a client that starts showing more is noticed.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


REASON = "policy: 'ref-pkg' is excluded by policy_exclude 'ref-pkg' on alice/dev"


class _StandIn(BaseHTTPRequestHandler):
    """Project pages as a refusing index could answer them: ``/s403/`` a 403 whose reason
    phrase and body are the reason, ``/s792/`` a PEP 792 ``quarantined`` status with it."""

    def do_GET(self) -> None:
        if self.path.startswith("/s403/"):
            status, kind, body = 403, "text/html", f"<html><body>{REASON}</body></html>"
        elif "json" in self.headers.get("Accept", ""):
            status, kind = 200, "application/vnd.pypi.simple.v1+json"
            status_792 = {"status": "quarantined", "reason": REASON}
            body = json.dumps({"meta": {"api-version": "1.4"}, "name": "ref-pkg", "files": [],
                               "project-status": status_792})  # fmt: skip
        else:
            status, kind = 200, "text/html"
            body = (
                '<html><head><meta name="pypi:repository-version" content="1.4">'
                '<meta name="pypi:project-status" content="quarantined">'
                f'<meta name="pypi:project-status-reason" content="{REASON}"></head></html>'
            )
        data = body.encode()
        self.send_response(status, REASON if status == 403 else None)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("kind", ["s403", "s792"])
def test_neither_client_shows_a_reason_given_on_the_project_page(
    kind: str, tmp_path: Path, home: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        simple = f"http://127.0.0.1:{server.server_address[1]}/{kind}/"
        venv = Venv.create(tmp_path / "venv")
        res, _ = pip_install(venv, home, simple, "ref-pkg", check=False)
        assert res.returncode != 0
        assert "(from versions: none)" in res.stdout + res.stderr
        assert "excluded" not in res.stdout + res.stderr
        uv_res = uv_pip_install(venv, home, simple, "ref-pkg", check=False)
        assert uv_res.returncode != 0
        assert "excluded" not in uv_res.stdout + uv_res.stderr
        if kind == "s403":  # uv hints at the status, without the reason
            assert "returned a 403 Forbidden error" in uv_res.stderr
    finally:
        server.shutdown()
        server.server_close()
