"""Crash faults for integration tests: uploading clients that retry across a server's
deaths, and a killer that SIGKILLs and restarts the server at seeded random moments.

A client sends each file until the server answers it (a dropped connection, or no server,
is no answer: the client waits and sends it again, as twine's users do), and records the
answer it got; the killer runs until told to stop, then leaves the server running.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.api import upload_form
from harness.server import port_open

if TYPE_CHECKING:
    from pathlib import Path

    from harness.server import DevpiServer


@dataclass
class Upload:
    """One file to upload, and what the server finally answered (``0``: nothing yet)."""

    path: Path
    name: str
    version: str
    status: int = 0
    reason: str = ""
    tries: int = 0


@dataclass
class Killer:
    """SIGKILLs ``server`` ``low``..``high`` seconds (seeded) after it is up again, and
    restarts it (a restart takes 5-15 s here: the server is down most of the time)."""

    server: DevpiServer
    seed: int
    low: float = 0.5
    high: float = 3.0
    kills: int = 0
    #: restarts that found a hot journal of devpi's database (a kill mid-write)
    recoveries: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(self.seed)  # noqa: S311 - reproducible fault timing, not crypto
        try:
            while not self.stop.wait(rng.uniform(self.low, self.high)):
                self.server.kill9()
                self.kills += 1
                # what an operator runs before each start (docs/deploy.md): devpi-server
                # alone does not start after a kill mid-write (a hot SQLite journal)
                recover = self.server.bindir / "devpi-foundry-recover"
                done = subprocess.run([str(recover), str(self.server.serverdir)], check=True,
                                      capture_output=True, text=True)  # fmt: skip
                self.recoveries += bool(done.stdout.strip())
                self.server.start()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def send(url: str, auth: dict[str, str], upload: Upload, deadline: float) -> None:
    """Send ``upload`` (with ``auth``: devpi's login token header, cheaper to check than a
    password) until the server answers it (or ``deadline``, then fail)."""
    fields = [(":action", "file_upload"), ("name", upload.name), ("version", upload.version),
              ("protocol_version", "1")]  # fmt: skip
    body, headers = upload_form(fields, upload.path)
    headers = {**headers, **auth}
    while time.monotonic() < deadline:
        upload.tries += 1
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
                upload.status, upload.reason = resp.status, resp.reason
                return
        except urllib.error.HTTPError as err:
            if err.code < 500:
                upload.status, upload.reason = err.code, err.reason
                return
        except (OSError, urllib.error.URLError):
            pass  # no server (killed): send it again once it is back
        time.sleep(0.2)
    msg = f"{upload.path.name}: no answer before the deadline ({upload.tries} tries)"
    raise TimeoutError(msg)


def run_clients(
    url: str, auth: dict[str, str], uploads: list[Upload], clients: int, timeout: float
) -> list[BaseException]:
    """``clients`` threads sharing ``uploads`` (each takes the next one); their errors."""
    pending = list(reversed(uploads))
    lock = threading.Lock()
    errors: list[BaseException] = []
    deadline = time.monotonic() + timeout

    def client() -> None:
        while True:
            with lock:
                if not pending:
                    return
                upload = pending.pop()
            try:
                send(url, auth, upload, deadline)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
                return

    threads = [threading.Thread(target=client, name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def wait_up(server: DevpiServer, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(server.host, server.port):
        if time.monotonic() > deadline:
            msg = f"server not up within {timeout} s"
            raise TimeoutError(msg)
        time.sleep(0.2)
