"""One session of the build driver in a fresh Docker container (docker SDK).

The container runs the builder's image as the build user, read-only, without network, in
memory, CPU and process limits of its own, with two size-capped tmpfs volumes: ``/job``
(the build's disk, its only writable space besides ``/tmp`` and ``/dev/shm``) and the
input at ``/opt/devpi-buildfarm-in``, which the build user cannot write; the toolbox is
the farm's volume (:mod:`.docker_toolbox`), mounted read-only at ``/opt/devpi-buildfarm``.
Files go in and out by archive copy through the daemon's API (``put_archive``/
``get_archive``), never by a host bind mount, so a remote daemon works the same: the
input frame goes in, the driver runs (``exec``, its output into the job's log), and the
answer frame comes back as one regular file of bounded size (its tar read by
:mod:`..core.onefile_tar`, not ``tarfile``), read here like the local backend's stdout.
The container and its volumes are removed whatever happens (by a background thread, once
the answer is read: the next step does not wait for the daemon).
"""

from __future__ import annotations

import contextlib
import logging
import re
import tarfile  # noqa: TID251 - writes the worker's own input archive, reads none
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.adapters.session import Answer, read_answer
from devpi_buildfarm.core import sandbox
from devpi_buildfarm.core.framing import MAX_HEADER_BYTES, FrameError, write_frame
from devpi_buildfarm.core.onefile_tar import only_file
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from devpi_buildfarm.adapters.driver_backend import DriverJob
    from devpi_buildfarm.adapters.toolbox import Toolbox

log = logging.getLogger(__name__)
LABEL: Final = "devpi-buildfarm.farm"
ANSWER: Final = f"{sandbox.JOB_DIR}/out/answer"
PATH: Final = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
MiB: Final = 1024 * 1024


class ContainerSession:
    """Everything one container session needs (a backend makes one per session)."""

    def __init__(self, client: Any, settings: dict[str, Any], toolbox: tuple[Toolbox, str],
                 scope: str, python: tuple[str, str]) -> None:  # fmt: skip
        self.client, self.settings = client, settings
        self.toolbox, self.toolbox_volume = toolbox
        self.scope, self.tool, self.target_python = scope, python[0], python[1]
        self.inbox = f"{self.toolbox.root}-in"

    def run(self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]],
            stage: str) -> Answer:  # fmt: skip
        from docker.errors import DockerException

        try:
            return self._run(job, meta, files, stage)
        except DockerException as exc:  # the daemon's failure, not the build's: retried
            msg = f"docker: {exc}"[:2000]
            raise BuildError(msg, stage=stage) from None

    def _run(self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]],
             stage: str) -> Answer:  # fmt: skip
        meta = {**meta, "python": self.target_python}
        frame = job.work / f"frame-{stage}.tar"
        size = _frame_tar(frame, meta, files)
        name = f"devpi-buildfarm-{self.scope}-{job.request.job_id}-{stage}-{uuid.uuid4().hex[:8]}"
        with self._container(job, name, input_bytes=size) as container:
            with frame.open("rb") as stream:
                container.put_archive(self.inbox, stream)
            frame.unlink()
            began = self._daemon_time()
            code = self._exec(container, job, stage)
            container.pause()  # what the build left running cannot touch the answer now
            if self._oom_killed(container, began, self._daemon_time()):
                msg = (f"the build exceeded its memory limit of {job.request.limits.memory} "
                       "bytes and was killed")  # fmt: skip
                raise BuildError(msg, stage=stage, permanent=True)
            meta_out, file = self._answer(container, job, code, stage)
        return Answer(meta=meta_out, file=file, returncode=code)

    @contextlib.contextmanager
    def _container(self, job: DriverJob, name: str, *, input_bytes: int) -> Iterator[Any]:
        limits = job.request.limits
        labels = {LABEL: self.scope, "devpi-buildfarm.job": str(job.request.job_id)}
        made: list[Any] = []
        try:
            work = self._volume(labels, limits.disk, "1777", made)
            inbox = self._volume(labels, input_bytes + MiB, "0755", made)
            container = self.client.containers.create(
                self.settings["image_id"], ["sleep", "infinity"], name=name, labels=labels,
                log_config=_no_log(),  # its PID 1's output: nobody's disk, unbounded
                user=self.settings["user"], network_mode="none", read_only=True, init=True,
                mounts=[_mount(sandbox.JOB_DIR, work), _mount(self.inbox, inbox),
                        _mount(self.toolbox.root, self.toolbox_volume, read_only=True)],
                tmpfs={sandbox.TMP_DIR: f"size={sandbox.TMP_BYTES},mode=1777,exec"},
                shm_size=sandbox.SHM_BYTES, mem_limit=limits.memory, memswap_limit=limits.memory,
                pids_limit=limits.pids, nano_cpus=int(self.settings["cpus"] * 1e9),
                cap_drop=["ALL"], security_opt=["no-new-privileges"], ipc_mode="private",
                ulimits=[_ulimit("core", 0), _ulimit("nofile", 4096)],
                platform=self.settings.get("platform"), working_dir=sandbox.JOB_DIR,
            )  # fmt: skip
            made.insert(0, container)
            container.start()
            yield container
        finally:  # the container first: its volumes are in use until then
            _REAPER.submit(_remove_all, made)

    def _daemon_time(self) -> str:
        """The daemon's clock now, as its API's timestamps (``seconds.nanoseconds``)."""
        return docker_timestamp(str(self.client.info().get("SystemTime", "")))

    def _oom_killed(self, container: Any, since: str, until: str) -> bool:
        """Whether the kernel killed a process of the container for memory (the daemon's
        ``oom`` events: they also cover processes other than the container's first).
        Both times are the daemon's: an ``until`` ahead of its clock would make it wait,
        a remote daemon's clock may differ from ours, and a past ``until`` answers at once."""
        wanted = {"container": container.id, "event": "oom"}
        events = self.client.events(since=since, until=until, decode=True, filters=wanted)
        try:
            return any(True for _ in events)
        finally:
            events.close()

    def _volume(self, labels: dict[str, str], size: int, mode: str, made: list[Any]) -> Any:
        volume = self.client.volumes.create(
            driver="local", labels=labels,
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": f"size={size},mode={mode}"},
        )  # fmt: skip
        made.append(volume)
        return volume

    def _exec(self, container: Any, job: DriverJob, stage: str) -> int:
        env = sandbox.build_env(PATH) | {"DEVPI_BUILDFARM_TOOLS": self.toolbox.runner}
        argv = [self.tool, "-I", self.toolbox.runner, "devpi_buildfarm.inside.driver",
                "--in", f"{self.inbox}/input/frame", "--out", ANSWER]  # fmt: skip
        api = self.client.api
        exe = api.exec_create(container.id, argv, user=self.settings["user"], environment=env,
                              workdir=sandbox.JOB_DIR, stdout=True, stderr=True)  # fmt: skip
        stream = api.exec_start(exe["Id"], stream=True, demux=True)
        pump = threading.Thread(target=_pump, args=(stream, job), daemon=True)
        pump.start()
        reason = None
        while pump.is_alive():
            pump.join(timeout=0.2)
            if job.deadline.left() <= 0:
                reason = f"timed out after {job.deadline.seconds:g} s"
            elif job.cancelled():
                reason = "cancelled"
            if reason is not None:
                with contextlib.suppress(Exception):
                    container.kill()
                raise BuildError(reason, stage="cancelled" if reason == "cancelled" else stage)
        code = api.exec_inspect(exe["Id"]).get("ExitCode")
        return -1 if code is None else int(code)

    def _answer(self, container: Any, job: DriverJob, code: int,
                stage: str) -> tuple[dict[str, Any], Path | None]:  # fmt: skip
        limit = job.request.limits.output_bytes
        cap = limit + MAX_HEADER_BYTES + MiB
        stat = _stat(self.client.api, container.id, ANSWER)  # HEAD: nothing is read yet
        if stat is None:
            msg = f"the sandbox ended with {code} and no answer"
            raise BuildError(msg, stage=stage)
        if stat.get("linkTarget") or int(stat.get("mode", 0)) & ~0o7777:
            msg = "the build's answer is not a regular file"
            raise BuildError(msg, stage=stage, permanent=True)
        if int(stat.get("size", 0)) > cap:
            msg = f"the build's answer is {stat['size']} bytes, over the output limit of {limit}"
            raise BuildError(msg, stage=stage, permanent=True)
        chunks, _ = container.get_archive(ANSWER)
        stream = _Chunks(chunks, cap + MiB)
        try:
            body = only_file(stream, "answer", cap)  # type: ignore[arg-type]
            return read_answer(body, job.work / "out", limit)
        except (FrameError, OSError) as exc:
            raise BuildError(str(exc), stage=stage, permanent=True) from None
        finally:
            stream.drain()  # the daemon holds the container while its archive is unread


def docker_timestamp(text: str) -> str:
    """An RFC 3339 time of the daemon's (``2026-12-07T15:55:25.312258363Z``, or with its
    zone's offset) as the ``seconds.nanoseconds`` its event filters take; one second from
    now when unreadable.

    >>> docker_timestamp("1970-01-01T00:01:40.5Z")
    '100.500000000'
    >>> docker_timestamp("2026-12-07T16:55:25.312258363+01:00")
    '1796658925.312258363'
    """
    import datetime as dt

    found = _RFC3339.fullmatch(text.strip())
    try:
        whole, digits, zone = found.groups() if found else ("", "", "")
        moment = dt.datetime.fromisoformat(whole + ("+00:00" if zone in "Zz" else zone))
    except ValueError:  # no time, or an impossible one
        return f"{time.time() + 1:.9f}"
    return f"{int(moment.timestamp())}.{(digits or '')[:9].ljust(9, '0')}"


_RFC3339: Final = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", re.IGNORECASE
)


def _stat(api: Any, container_id: str, path: str) -> dict[str, Any] | None:
    """The daemon's stat of ``path`` in the container (``HEAD .../archive``), or ``None``."""
    from docker.utils import decode_json_header

    url = api._url("/containers/{0}/archive", container_id)  # noqa: SLF001 - no public HEAD
    response = api.head(url, params={"path": path}, timeout=120)
    if response.status_code == 404:  # noqa: PLR2004
        return None
    api._raise_for_status(response)  # noqa: SLF001
    header = response.headers.get("X-Docker-Container-Path-Stat")
    return dict(decode_json_header(header)) if header else None


class _Chunks:
    """A read-only stream over the daemon's archive chunks, never more than ``cap`` bytes."""

    def __init__(self, chunks: Iterator[bytes], cap: int) -> None:
        self.chunks, self.cap, self.buffer, self.total = iter(chunks), cap, b"", 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:  # whole chunks: linear in what is read
            chunk = next(self.chunks, b"")
            if not chunk:
                break
            self.total += len(chunk)
            if self.total > self.cap:
                msg = f"the build's answer is over {self.cap} bytes"
                raise OSError(msg)
            self.buffer += chunk
        size = len(self.buffer) if size < 0 else size
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def drain(self) -> None:
        """Read what is left (never more than the cap allows), then let go of it."""
        try:
            while self.total <= self.cap and (chunk := next(self.chunks, b"")):
                self.total += len(chunk)
        finally:
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()


def _frame_tar(path: Path, meta: dict[str, Any], files: Sequence[tuple[str, Path]]) -> int:
    """A tar holding the input frame as ``input/frame``; its size."""
    frame = path.with_suffix(".frame")
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(frame.open("xb"))
        opened = [(name, stack.enter_context(p.open("rb")), p.stat().st_size) for name, p in files]
        write_frame(out, meta, opened)
    with tarfile.open(path, "x", format=tarfile.PAX_FORMAT) as tar:
        info = tar.gettarinfo(str(frame), arcname="input/frame")
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o644
        with frame.open("rb") as stream:
            tar.addfile(info, stream)
    frame.unlink()
    return path.stat().st_size


def _pump(stream: Iterator[tuple[bytes | None, bytes | None]], job: DriverJob) -> None:
    with contextlib.suppress(Exception):  # the container was killed: its stream just ends
        for out, err in stream:
            for data in (out, err):
                if data:
                    job.log(data)


#: removes finished sessions' containers and volumes off the build's path (the container
#: is paused or dead by then); its thread finishes what was handed to it before the
#: interpreter exits, and what a killed server did not remove goes at the next start
_REAPER: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devpi-buildfarm-reaper")


def _remove_all(things: list[Any]) -> None:
    for thing in things:
        _remove(thing)


def _remove(thing: Any) -> None:
    """Remove a container or volume; a failure is logged (the farm's next start removes
    what carries its label)."""
    for attempt in range(3):
        try:
            thing.remove(force=True)
        except Exception as exc:  # noqa: BLE001 - the daemon's error, whatever it is
            if "no such" in str(exc).lower():
                return
            if attempt == 2:  # noqa: PLR2004
                log.warning("devpi-buildfarm: could not remove %s: %s", thing.name, exc)
            time.sleep(0.5)
        else:
            return


def _no_log() -> Any:
    from docker.types import LogConfig

    return LogConfig(type="none")


def _mount(target: str, volume: Any, *, read_only: bool = False) -> Any:
    from docker.types import Mount

    name = volume if isinstance(volume, str) else volume.name
    return Mount(target, name, type="volume", read_only=read_only, no_copy=True)


def _ulimit(name: str, value: int) -> Any:
    from docker.types import Ulimit

    return Ulimit(name=name, soft=value, hard=value)
