"""Real devpi-server processes for integration tests.

A server counts as ready when its port accepts connections and ``/+api`` answers: devpi
logs "serving at url" before waitress binds, so waiting for that line races. Servers are
stopped by PID (terminate, then kill), and a dead server's log tail is part of every error.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from harness.env import isolated_env
from harness.serverlog import watch

if TYPE_CHECKING:
    from pathlib import Path

#: Lowered argon2 settings for the server secret (devpi's own fixtures use the same);
#: the defaults cost about 20 s of CPU per start on 2 cores.
FAST_ARGON2 = (
    "--argon2-memory-cost", "8",
    "--argon2-parallelism", "1",
    "--argon2-time-cost", "1",
)  # fmt: skip
ROOT_PASSWORD = "root-test-pw"  # noqa: S105 - a throw-away test server


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@dataclass
class DevpiServer:
    """One devpi-server process with its own serverdir, run from the venv in ``bindir``."""

    serverdir: Path
    bindir: Path
    args: tuple[str, ...] = ()
    init_args: tuple[str, ...] = ("--no-root-pypi",)
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    #: extra environment variables of the server process (e.g. PYTHONPATH for a plugin)
    env: dict[str, str] = field(default_factory=dict)
    #: use another server's secret file (a replica shares its primary's)
    secret: Path | None = None
    #: the server process's working directory (relative ``--serverdir`` arguments)
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.serverdir.parent / f"{self.serverdir.name}.log"

    @property
    def secretfile(self) -> Path:
        if self.secret is not None:
            return self.secret
        return self.serverdir.parent / f"{self.serverdir.name}.secret"

    def _env(self) -> dict[str, str]:
        return {**isolated_env(self.serverdir.parent / "home"), **self.env}

    def _run_tool(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / tool), *args]
        return subprocess.run(cmd, env=self._env(), capture_output=True, text=True, check=False)

    def init(self) -> None:
        """``devpi-init`` the serverdir (once) and create the secret file logins survive on."""
        if not self.secretfile.exists():
            res = self._run_tool("devpi-gen-secret", "--secretfile", str(self.secretfile))
            _check(res, "devpi-gen-secret")
        if not (self.serverdir / ".nodeinfo").exists():
            res = self._run_tool(
                "devpi-init", "--serverdir", str(self.serverdir),
                "--root-passwd", ROOT_PASSWORD, *self.init_args,
            )  # fmt: skip
            _check(res, "devpi-init")

    def command(self) -> list[str]:
        return [
            str(self.bindir / "devpi-server"),
            "--serverdir", str(self.serverdir),
            "--host", self.host,
            "--port", str(self.port),
            "--secretfile", str(self.secretfile),
            *FAST_ARGON2,
            *self.args,
        ]  # fmt: skip

    def start(self, timeout: float = 90.0) -> DevpiServer:
        """Start the process and wait until it serves ``/+api``."""
        self.init()
        watch(self.log_path)  # the integration tier fails a test on what this log shows
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=self._env(),
            cwd=self.cwd,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                msg = f"devpi-server exited with {self.proc.returncode}:\n{self.log_tail()}"
                self.stop()
                raise RuntimeError(msg)
            if port_open(self.host, self.port) and self._api_ready():
                return self
            time.sleep(0.1)
        self.stop()
        msg = f"devpi-server not ready within {timeout} s:\n{self.log_tail()}"
        raise TimeoutError(msg)

    def _api_ready(self) -> bool:
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"{self.url}/+api", timeout=5) as resp,  # noqa: S310
        ):
            return bool(resp.status == 200)
        return False

    def api(self) -> dict[str, Any]:
        """The ``/+api`` result."""
        return get_json(f"{self.url}/+api")

    def status(self) -> dict[str, Any]:
        """The ``/+status`` result."""
        return get_json(f"{self.url}/+status")

    def stop(self, timeout: float = 20.0) -> None:
        """Terminate by PID; kill if it does not exit in time."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill9(self) -> None:
        """SIGKILL the server, as a crash would."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.stop()

    def restart(self) -> DevpiServer:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def run_tool(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``devpi-export``/``devpi-import``/... of this server's venv; raises on failure."""
        res = self._run_tool(tool, *args)
        _check(res, tool)
        return res


def get_json(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """GET ``url`` with ``Accept: application/json`` and return the decoded ``result``."""
    req = urllib.request.Request(  # noqa: S310 - test servers on loopback
        url, headers={"Accept": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        data: dict[str, Any] = json.load(resp)
    result: dict[str, Any] = data.get("result", data)
    return result


def get_status(url: str) -> tuple[int, str]:
    """GET ``url``: the status and the body, or for an HTTP error the reason phrase."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - loopback
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, str(err.reason)


def _check(res: subprocess.CompletedProcess[str], what: str) -> None:
    if res.returncode != 0:
        msg = f"{what} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
        raise RuntimeError(msg)
