"""An sshd on loopback for the ssh backend's tests: throw-away keys, one build user.

Started per test module as root (``/usr/sbin/sshd -D`` on a free port of 127.0.0.1) with
its own configuration: public-key login only, no agent or TCP forwarding, SFTP, and the
authorized key in a root-owned file outside the build user's home (a build cannot add a
key for later logins). ``.ci/run`` creates the build user (:data:`USER`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

USER: Final = os.environ.get("FOUNDRY_SSH_BUILD_USER", "devpi-build")
#: a user in the group ``docker``: a remote Docker daemon reached over ssh://
DOCKER_USER: Final = os.environ.get("FOUNDRY_SSH_DOCKER_USER", "devpi-docker")
SSHD: Final = "/usr/sbin/sshd"


def problem(user: str = USER) -> str | None:
    """Why an sshd with a build user cannot run here (``None``: it can)."""
    if os.geteuid() != 0:
        return "the tests do not run as root"
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        return f"{SSHD} or ssh-keygen is not installed (Debian's openssh-server)"
    try:
        pwd.getpwnam(user)
    except KeyError:
        return f"the user {user!r} does not exist (useradd --create-home {user})"
    return None


@dataclass
class Sshd:
    """A running sshd and what a builders file needs to reach it."""

    port: int
    key_file: Path
    known_hosts: Path
    proc: subprocess.Popen[bytes]
    log: Path
    keys: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.keys, ignore_errors=True)


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True)  # fmt: skip


def start(work: Path) -> Sshd:
    """An sshd on a free port of 127.0.0.1 letting the client key in as :data:`USER`."""
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # sshd (as root) and nobody else writes here
    host_key, client_key = work / "host_ed25519", work / "client_ed25519"
    _keygen(host_key)
    _keygen(client_key)
    # sshd reads it as the build user: a root-owned directory it may traverse, not write
    keys = Path(tempfile.mkdtemp(prefix="devpi-foundry-sshd-", dir="/run"))
    keys.chmod(0o755)
    authorized = keys / "authorized_keys"
    shutil.copy(f"{client_key}.pub", authorized)
    authorized.chmod(0o644)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = work / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"PidFile {work}/sshd.pid\nAuthorizedKeysFile {authorized}\nStrictModes no\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n"
        f"AllowUsers {USER} {DOCKER_USER}\nUsePAM no\nAllowAgentForwarding no\n"
        "AllowTcpForwarding no\nAllowStreamLocalForwarding no\n"
        "X11Forwarding no\nSubsystem sftp internal-sftp\n"
        # forwarding to a socket needs local TCP forwarding allowed too (sshd's permit-all)
        f"Match User {DOCKER_USER}\n    AllowTcpForwarding local\n"
        "    AllowStreamLocalForwarding local\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = work / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as conn:
            if conn.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None:
            msg = f"sshd exited: {log.read_text(errors='replace')[-2000:]}"
            raise RuntimeError(msg)
        time.sleep(0.1)
    public = Path(f"{host_key}.pub").read_text().split()
    known_hosts = work / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
    return Sshd(port=port, key_file=client_key, known_hosts=known_hosts, proc=proc, log=log,
                keys=keys)  # fmt: skip


def build_uid() -> int:
    return pwd.getpwnam(USER).pw_uid
