"""One SSH connection to a build host (asyncssh), used from the worker's threads.

Host keys are checked strictly against the builder's ``known_hosts`` file: an unknown or
changed key refuses the connection, saying so. The client key comes from ``key_file``,
which must not be readable by group or others; no agent, no ``~/.ssh/config``, no
password. asyncssh runs in an event loop of its own thread; the methods here block.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import stat
import threading
import time
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path

CONNECT_TIMEOUT: Final = 30
#: SFTP transfers and small commands: a host that stops answering fails the job after this
CALL_TIMEOUT: Final = 600
#: what a command may print into devpi-server's memory (build output goes to the log)
MAX_OUTPUT: Final = 64 * 1024


class SshError(Exception):
    """The build host could not be reached or refused something (the message says what)."""


def check_key_file(path: Path) -> None:
    """Refuse a client key that others may read (as ``ssh`` does)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        msg = f"key_file {str(path)!r}: {exc.strerror}"
        raise SshError(msg) from None
    if not stat.S_ISREG(mode) or mode & 0o077:
        msg = (f"key_file {str(path)!r} is readable by group or others (mode "
               f"{stat.filemode(mode)}); chmod 600 it")  # fmt: skip
        raise SshError(msg)


class SshLink:
    """A lazily opened connection, reopened after it broke."""

    def __init__(self, *, host: str, port: int, user: str, key_file: Path,
                 known_hosts: Path) -> None:  # fmt: skip
        self.host, self.port, self.user = host, port, user
        self.key_file, self.known_hosts = key_file, known_hosts
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name=f"buildfarm-ssh-{host}")  # fmt: skip
        self.thread.start()
        self._conn: Any = None
        self._lock = threading.Lock()
        self.fingerprint = ""

    def call(
        self, coro: Coroutine[Any, Any, Any], timeout: float | None = CALL_TIMEOUT,
        cancelled: Callable[[], bool] | None = None,
    ) -> Any:  # fmt: skip
        """Run ``coro`` in the link's loop; :class:`SshError` past ``timeout`` or once
        ``cancelled()`` (the coroutine is cancelled: its channel closes)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return future.result(0.5)
            except concurrent.futures.TimeoutError:
                late = deadline is not None and time.monotonic() > deadline
                if late or (cancelled is not None and cancelled()):
                    future.cancel()
                    msg = "cancelled" if not late else f"no answer within {timeout:g} s"
                    raise SshError(msg) from None

    def connection(self) -> Any:
        with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._conn = self.call(self._connect(), CONNECT_TIMEOUT + 5)
            return self._conn

    async def _connect(self) -> Any:
        import asyncssh  # an optional extra: devpi-foundry[ssh]

        check_key_file(self.key_file)
        if not self.known_hosts.is_file():
            msg = f"known_hosts {str(self.known_hosts)!r} does not exist"
            raise SshError(msg)
        where = f"{self.user}@{self.host}:{self.port}"
        try:
            conn = await asyncio.wait_for(asyncssh.connect(
                self.host, port=self.port, username=self.user,
                client_keys=[str(self.key_file)], known_hosts=str(self.known_hosts),
                agent_path=None, config=[], password=None, kbdint_auth=False,
                keepalive_interval=15, keepalive_count_max=4,
            ), CONNECT_TIMEOUT)  # fmt: skip
        except asyncssh.HostKeyNotVerifiable as exc:
            msg = (f"{where}: its host key is not the one in {self.known_hosts} (unknown or "
                   f"changed): {exc.reason}")  # fmt: skip
            raise SshError(msg) from None
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            msg = f"{where}: {type(exc).__name__}: {exc}"
            raise SshError(msg) from None
        key = conn.get_server_host_key()
        self.fingerprint = key.get_fingerprint("sha256") if key is not None else ""
        return conn

    def run(self, command: str, *, output: Callable[[bytes], None] | None = None,
            timeout: float = CALL_TIMEOUT,
            cancelled: Callable[[], bool] | None = None) -> tuple[int, bytes]:  # fmt: skip
        """Run ``command``; its exit status and (without ``output``) its stdout (at most
        :data:`MAX_OUTPUT` bytes)."""
        self.connection()
        return self.call(self._run(command, output, timeout),  # type: ignore[no-any-return]
                         timeout + 30, cancelled)  # fmt: skip

    async def _run(self, command: str, output: Callable[[bytes], None] | None,
                   seconds: float | None) -> tuple[int, bytes]:  # fmt: skip
        conn = self.connection_in_loop()
        process = await conn.create_process(command, encoding=None, stdin=None)
        collected: list[bytes] = []

        async def pump(stream: Any, sink: Callable[[bytes], None]) -> None:
            while chunk := await stream.read(65536):
                sink(chunk)

        def keep(chunk: bytes) -> None:
            if sum(map(len, collected)) + len(chunk) > MAX_OUTPUT:
                msg = f"the command printed more than {MAX_OUTPUT} bytes"
                raise SshError(msg)
            collected.append(chunk)

        sink = output or keep
        try:
            await asyncio.wait_for(asyncio.gather(pump(process.stdout, sink),
                                                  pump(process.stderr, output or (lambda _: None)),
                                                  process.wait()), seconds)  # fmt: skip
        finally:
            process.close()
        status = process.exit_status if process.exit_status is not None else -1
        return int(status), b"".join(collected)

    def connection_in_loop(self) -> Any:
        if self._conn is None or self._conn.is_closed():
            msg = "not connected"
            raise SshError(msg)
        return self._conn

    def put(self, local: Path, remote: str) -> None:
        self.connection()
        self.call(self._sftp(lambda sftp: sftp.put(str(local), remote)))

    def lstat(self, remote: str) -> Any | None:
        async def go(sftp: Any) -> Any:
            import asyncssh

            try:
                return await sftp.lstat(remote)
            except asyncssh.SFTPNoSuchFile:
                return None

        self.connection()
        return self.call(self._sftp(go))

    def get(self, remote: str, local: Path, max_bytes: int) -> None:
        """Copy ``remote`` to ``local`` (created anew, never through a link), stopping with
        :class:`SshError` past ``max_bytes``."""

        async def go(sftp: Any) -> None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            total = 0
            async with sftp.open(remote, "rb") as source:
                with os.fdopen(os.open(local, flags, 0o600), "wb") as out:
                    while chunk := await source.read(1024 * 1024):
                        total += len(chunk)
                        if total > max_bytes:
                            msg = f"{remote} is over {max_bytes} bytes"
                            raise SshError(msg)
                        out.write(chunk)

        self.connection()
        self.call(self._sftp(go))

    async def _sftp(self, action: Callable[[Any], Any]) -> Any:
        conn = self.connection_in_loop()
        async with conn.start_sftp_client() as sftp:
            return await action(sftp)

    def forward_socket(self, local: str, remote: str) -> None:
        """Forward the local UNIX socket ``local`` to ``remote`` on the host (a Docker
        daemon's socket there); again after the connection broke."""
        conn = self.connection()

        async def forward() -> Any:
            return await conn.forward_local_path(local, remote)

        self.call(forward(), CONNECT_TIMEOUT)

    def alive(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    def close(self) -> None:
        if self._conn is not None:
            self.loop.call_soon_threadsafe(self._conn.close)
