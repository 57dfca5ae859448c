"""Drivers for the real clients a user runs: ``devpi``, ``pip``, ``uv`` and ``twine``.

All of them run as subprocesses with an environment from :func:`harness.env.isolated_env`
and only the server under test as index. ``pip_install`` returns pip's ``--report`` so tests
can assert where every installed file came from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.env import isolated_env

BINDIR = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BINDIR / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        msg = f"{name!r} is not installed in the test environment ({BINDIR})"
        raise FileNotFoundError(msg)
    return found


def run(
    cmd: list[str],
    home: Path,
    *,
    index_url: str | None = None,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a client command in an isolated environment; on failure show its output."""
    res = subprocess.run(
        cmd, env=isolated_env(home, index_url=index_url), capture_output=True, text=True,
        check=False, cwd=cwd, timeout=600,
    )  # fmt: skip
    if check and res.returncode != 0:
        msg = f"{cmd} exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
        raise AssertionError(msg)
    return res


@dataclass
class Venv:
    """A fresh virtual environment without pip; installs go through the test env's pip/uv."""

    path: Path

    @classmethod
    def create(cls, path: Path) -> Venv:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
        return cls(path)

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def import_(self, module: str, home: Path, code: str = "") -> str:
        """Import ``module`` in this venv (and run ``code``); return what it printed."""
        script = f"import {module}; {code}"
        return run([str(self.python), "-c", script], home).stdout


def pip_install(
    venv: Venv, home: Path, index_url: str, *args: str, check: bool = True
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``pip install`` into ``venv`` from ``index_url`` only; returns result and report."""
    report = home / "pip-report.json"
    report.unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "--python", str(venv.python), "install",
        "--index-url", index_url, "--no-cache-dir", "--report", str(report), *args,
    ]  # fmt: skip
    res = run(cmd, home, index_url=index_url, check=check)
    data = json.loads(report.read_text()) if report.exists() else {}
    return res, data


def pip_download(
    dest: Path, home: Path, index_url: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``pip download --no-deps`` into ``dest`` from ``index_url`` only."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--index-url", index_url,
        "--no-cache-dir", "-d", str(dest), *args,
    ]  # fmt: skip
    return run(cmd, home, index_url=index_url, check=check)


def report_urls(report: dict[str, Any]) -> dict[str, str]:
    """Project name -> URL of the file pip installed, from a ``pip --report``."""
    return {
        item["metadata"]["name"]: item["download_info"]["url"] for item in report.get("install", [])
    }


def assert_all_from(report: dict[str, Any], server_url: str) -> None:
    """Every file in a ``pip --report`` came from ``server_url``."""
    urls = report_urls(report)
    assert urls, "pip installed nothing"
    strangers = {name: url for name, url in urls.items() if not url.startswith(server_url + "/")}
    assert not strangers, f"files not from the server under test {server_url}: {strangers}"


def uv_pip_install(
    venv: Venv, home: Path, index_url: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``uv pip install`` into ``venv`` from ``index_url`` only."""
    cmd = [
        _tool("uv"), "pip", "install", "--python", str(venv.python), "--no-config",
        "--no-cache", "--index-url", index_url, *args,
    ]  # fmt: skip
    return run(cmd, home, index_url=index_url, check=check)


def twine_upload(
    home: Path, repository_url: str, user: str, password: str, *files: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``twine upload`` files to a devpi index."""
    cmd = [
        sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
        "--repository-url", repository_url, "-u", user, "-p", password, *map(str, files),
    ]  # fmt: skip
    return run(cmd, home, check=check)


@dataclass
class DevpiClient:
    """The real ``devpi`` command line client with its own client directory."""

    home: Path
    #: another ``devpi`` than the test environment's (e.g. a client-only venv's)
    executable: Path | None = None

    @property
    def clientdir(self) -> Path:
        return self.home / "devpi-client"

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        devpi = str(self.executable) if self.executable else _tool("devpi")
        cmd = [devpi, "--clientdir", str(self.clientdir), *args]
        return run(cmd, self.home, check=check)

    def use_login(self, url: str, user: str, password: str) -> DevpiClient:
        self("use", url)
        self("login", user, "--password", password)
        return self
