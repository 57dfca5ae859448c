"""The README's demo, line by line: ``tools/serve.py`` (``tox -e serve``) with examples/,
against an upstream that serves no ``.metadata`` files (older wheels, some mirrors and
proxies); then a restart that must keep the user's changes to the example indexes."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest

from harness import serverlog
from harness.api import DevpiApi
from harness.buildfarm import tool_wheels
from harness.clients import twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.env import isolated_env
from harness.server import ROOT_PASSWORD, DevpiServer, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).parents[2]
SERVE = REPO / "tools" / "serve.py"
BINDIR = Path(sys.executable).parent
READY = b"Press Ctrl-C to stop."
DEMO_URL = "http://127.0.0.1:3141"
#: a project the demo's policy refuses, present upstream
PYCRYPTO = Project("pycrypto", "2.6.1")


def readme_demo_lines() -> list[str]:
    """The commands of the README's "Try the demo" block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Try the demo\n.*?```sh\n(.*?)```", text, re.DOTALL)
    assert block is not None, "README.md has no 'Try the demo' sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def bare_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevpiServer]:
    """A devpi-server playing PyPI without PEP 658 ``.metadata`` files: the build tools,
    packaging, and pycrypto."""
    base = tmp_path_factory.mktemp("bare-upstream")
    server = DevpiServer(base / "serverdir", BINDIR).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index("root/up", type="stage", bases=[], volatile=True)
        files = [*tool_wheels(base / "tools"), make_wheel(base / "dists", PYCRYPTO)]
        files.append(make_sdist(base / "dists", PYCRYPTO))
        twine_upload(base / "home", f"{server.url}/root/up/", "root", ROOT_PASSWORD, *files)
        yield server
    finally:
        server.stop()


class Serve:
    """``tools/serve.py`` as a user runs it, its output in a log file."""

    def __init__(self, tmp: Path, home: Path, port: int, mirror: str) -> None:
        self.tmp = tmp
        self.log_path = tmp / "serve-0.log"
        self.cmd = [
            sys.executable, str(SERVE), "--serverdir", str(tmp / "serverdir"),
            "--port", str(port), "--mirror-url", mirror,
        ]  # fmt: skip
        self.env = isolated_env(home)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> tuple[str, float]:
        """Start and wait for the banner; this start's output and its seconds."""
        # a log per start, each checked by the integration tier's server-log check
        self.log_path = self.tmp / f"serve-{len(list(self.tmp.glob('serve-*.log')))}.log"
        serverlog.watch(self.log_path)
        self._log = self.log_path.open("wb")
        began = time.monotonic()
        self.proc = subprocess.Popen(
            self.cmd, stdout=self._log, stderr=subprocess.STDOUT, env=self.env
        )
        while READY not in self.log_path.read_bytes():
            assert self.proc.poll() is None, self.log_path.read_text()
            assert time.monotonic() < began + 180, self.log_path.read_text()
            time.sleep(0.2)
        return self.log_path.read_text(), time.monotonic() - began

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            assert self.proc.wait(30) == 0
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


def test_readme_demo_on_a_mirror_without_metadata(
    bare_upstream: DevpiServer, tmp_path: Path, home: Path
) -> None:
    wheel_url = DevpiApi(bare_upstream.url).ok("GET", "root/up/pycrypto/2.6.1")["+links"]
    wheel_href = next(link["href"] for link in wheel_url if link["href"].endswith(".whl"))
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{wheel_href}.metadata", timeout=30)  # noqa: S310 - loopback
    missing.value.close()
    assert missing.value.code == 404  # the upstream really serves no .metadata

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = Serve(tmp_path, home, port, f"{bare_upstream.url}/root/up/+simple/")
    work = tmp_path / "checkout"
    shutil.copytree(REPO / "examples" / "demo-project", work / "examples" / "demo-project")
    try:
        output, seconds = serve.start()
        print(f"first start: {seconds:.1f} s")  # noqa: T201 - the figure for the report
        devpi_path = str(BINDIR / "devpi")
        assert "created: user demo, index root/pypi, index demo/dev" in output
        mirror = DevpiApi(url).index("root/pypi")
        assert not mirror.get("mirror_provides_core_metadata")
        assert mirror["mirror_no_project_list"] is True
        outputs = _run_demo(url, work, home)
        _assert_demo(outputs, work)
        assert f"In a browser: {url}/demo/dev/+buildfarm/builds" in output
        builds = DevpiApi(url).request(
            "GET", "demo/dev/+buildfarm/builds", headers={"Accept": "text/html"}
        )
        assert builds.status == 200
        assert b"foundry-demo 1.0" in builds.body
        assert "devpi policy|build|license" in output
        assert f"is {devpi_path}" in output

        # the user changes an example index; a restart keeps the change and says so
        demo = DevpiApi(url).login("demo", "demo")
        demo.modify_index("demo/dev", policy_exclude=["pycrypto", "evil-*"], volatile=False)
        serve.stop()
        output, seconds = serve.start()
        print(f"second start: {seconds:.1f} s")  # noqa: T201
        assert "your own changes stay" in output
        assert "applying demo.toml" not in output
        after = DevpiApi(url).index("demo/dev")
        assert after["policy_exclude"] == ["pycrypto", "evil-*"]
        assert after["volatile"] is False
    finally:
        serve.stop()


def _run_demo(url: str, work: Path, home: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each README line in bash from ``work`` with the test's devpi and server; exit
    statuses as the line's comment says (``exit status N``, else 0)."""
    env = {**isolated_env(home), "devpi": str(BINDIR / "devpi")}
    results = {}
    for line in readme_demo_lines():
        if line.startswith("devpi="):
            continue  # the README's path of tox -e serve's devpi; the test's is in env
        command = line.replace(DEMO_URL, url)
        expected = re.search(r"exit status (\d+)", line)
        res = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True,
            check=False, timeout=600,
        )  # fmt: skip
        want = int(expected.group(1)) if expected else 0
        assert res.returncode == want, f"{line}\n{res.stdout}\n{res.stderr}"
        results[line.split("#")[0].strip()] = res
    return results


def _assert_demo(outputs: dict[str, subprocess.CompletedProcess[str]], work: Path) -> None:
    def output_of(prefix: str, end: str = "") -> str:
        found = [
            r.stdout + r.stderr
            for line, r in outputs.items()
            if line.startswith(prefix) and line.endswith(end)
        ]
        assert len(found) == 1, (prefix, list(outputs))
        return found[0]

    check = output_of("$devpi policy check pycrypto")
    assert "REFUSED" in check
    assert "policy_exclude" in check
    build = output_of("$devpi build request foundry-demo")
    assert "succeeded" in build
    assert "foundry_demo-1.0-py3-none-any.whl" in build
    report = output_of("$devpi license report foundry-demo")
    assert re.search(r"foundry-demo\s+1\.0\s+MIT", report), report
    assert "packaging" in report
    python = work / "demo-venv" / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-c", "import foundry_demo; print(foundry_demo.newest('1.0', '1.10'))"],
        capture_output=True, text=True, check=True, cwd=work,
    )  # fmt: skip
    assert installed.stdout.strip() == "1.10"
    freeze = subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True, cwd=work
    ).stdout.lower()
    assert "foundry-demo==1.0" in freeze
    assert "pycrypto" not in freeze  # refused: nothing of it was installed
    refused = output_of("demo-venv/bin/pip install", "pycrypto")
    assert "pycrypto" in refused
