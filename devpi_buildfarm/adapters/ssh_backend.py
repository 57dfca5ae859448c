"""The ``ssh`` backend: every build session on a remote machine or VM reached over SSH
(asyncssh), the steps of :mod:`.driver_backend`.

Per session: a private job directory (``mktemp``), the toolbox and the input frame sent by
SFTP, the driver run as the builder's unprivileged user under the builder's timeout and
``ulimit``\\ s, on Linux inside bubblewrap on that host (no network, read-only system, the
build's disk a tmpfs of ``disk``; ``sandbox = "none"`` runs it without, for hosts that
have no bubblewrap, and the job's isolation then says so), the answer fetched back by
SFTP through a bounded read (one regular file, never more than the output limit), and the
directory removed in every outcome. At start the host is probed once (architecture,
CPythons, bubblewrap); a target it cannot build is reported then.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.adapters.driver_backend import DriverBackend
from devpi_buildfarm.adapters.envcache import EnvCache
from devpi_buildfarm.adapters.session import Answer, read_answer
from devpi_buildfarm.adapters.ssh_link import SshError, SshLink
from devpi_buildfarm.adapters.toolbox import toolbox_for
from devpi_buildfarm.core import interpreters, remote, sandbox
from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.core.builders import BACKEND_KEYS
from devpi_buildfarm.core.framing import MAX_HEADER_BYTES, FrameError, write_frame
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from devpi_buildfarm.adapters.driver_backend import DriverJob
    from devpi_buildfarm.config import ServerOptions
    from devpi_buildfarm.core.builders import Builder
    from devpi_buildfarm.core.ports import BuildRequest

log = logging.getLogger(__name__)
SETTINGS: Final = BACKEND_KEYS["ssh"]
PATH: Final = ("/usr/local/bin", "/usr/bin", "/bin")
_JOB_DIR = re.compile(r"^/tmp/devpi-buildfarm-[A-Za-z0-9]{8}$")


def settings_of(builder: Builder) -> dict[str, Any]:
    """The builder's ssh settings with defaults; ``ValueError`` for missing or bad ones."""
    found = {"port": 22, "sandbox": "bubblewrap", **builder.settings}
    missing = [k for k in ("host", "user", "key_file", "known_hosts") if not found.get(k)]
    if missing:
        msg = f"builder {builder.name!r}: the ssh backend needs {', '.join(missing)}"
        raise ValueError(msg)
    if found["sandbox"] not in ("bubblewrap", "none"):
        msg = (
            f"builder {builder.name!r}: sandbox is 'bubblewrap' or 'none', not {found['sandbox']!r}"
        )
        raise ValueError(msg)
    if found["sandbox"] == "none" and builder.max_jobs != 1:
        msg = (f"builder {builder.name!r}: sandbox = 'none' runs builds as one user with nothing "
               "between them: max_jobs must be 1")  # fmt: skip
        raise ValueError(msg)
    port = found["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:  # noqa: PLR2004
        msg = f"builder {builder.name!r}: port must be a TCP port, not {port!r}"
        raise ValueError(msg)
    return found


class SshBackend(DriverBackend):
    """Builds on one remote host as one unprivileged user."""

    name = "ssh"
    cross_platform = True

    def __init__(self, builder: Builder, *, workdir: Path, cache: EnvCache | None = None,
                 allow_unisolated: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.builder, self.cache = builder, cache
        self.settings = settings_of(builder)
        if self.settings["sandbox"] == "none" and not allow_unisolated:
            msg = (f"builder {builder.name!r}: sandbox = 'none' needs devpi-server's "
                   "--buildfarm-allow-unisolated (builds then share the build user, its files "
                   "and the host's network)")  # fmt: skip
            raise ValueError(msg)
        self.swept = False
        self.toolbox = toolbox_for(workdir)
        self.link = SshLink(host=str(self.settings["host"]), port=int(self.settings["port"]),
                            user=str(self.settings["user"]),
                            key_file=Path(str(self.settings["key_file"])),
                            known_hosts=Path(str(self.settings["known_hosts"])))  # fmt: skip
        self.probe: interpreters.Probe | None = None
        self.layout: tuple[list[tuple[str, str]], list[str], str | None] = ([], [], None)
        self.trouble: str | None = "not started"

    @property
    def isolation(self) -> str:
        return "ssh"

    def start(self) -> None:
        """Connect and probe the host (a problem is kept as the reason builds cannot run)."""
        try:
            code, out = self.link.run(f"{interpreters.PROBE_SCRIPT}; {remote.LAYOUT_SCRIPT}",
                                      timeout=60)  # fmt: skip
            if code != 0:
                msg = f"the probe exited with {code}"
                raise SshError(msg)  # noqa: TRY301 - kept below like every other failure
            text = out.decode("utf-8", "replace")
            self.probe = interpreters.parse_probe(text)
            if not self.swept:  # job directories a killed server left (older than a build)
                minutes = self.builder.timeout // 60 + 5
                self.link.run("find /tmp -maxdepth 1 -name 'devpi-buildfarm-????????' "
                              f'-user "$(id -u)" -mmin +{minutes} -exec rm -rf {{}} +',
                              timeout=300)  # fmt: skip
                self.swept = True
            self.layout = remote.host_layout(text)
            self.trouble = None
            if self.settings["sandbox"] == "bubblewrap" and self.layout[2] is None:
                self.trouble = ("bubblewrap (bwrap) is not installed on the build host; install "
                                "it or set sandbox = 'none' for this builder")  # fmt: skip
        except (SshError, ValueError, OSError) as exc:
            self.trouble = str(exc)[:500]
        if self.trouble:
            log.error("devpi-buildfarm: builder %r cannot build: %s", self.builder.name,
                      self.trouble)  # fmt: skip

    def status(self, target: str) -> str:
        # the host's own architecture: whatever it runs is native there
        return interpreters.runs(self.probe, tg.parse_target(target), native=(),
                                 where=f"host {self.settings['host']}",
                                 trouble=self.trouble)  # fmt: skip

    def prepare(self, request: BuildRequest) -> None:
        if self.trouble is not None:  # the host may be back: look again
            self.start()
        state = self.status(request.target)
        if state.startswith("cannot run"):
            raise BuildError(state, stage="isolation", permanent=self.trouble is None)

    def environment(self, job: DriverJob) -> dict[str, Any]:
        del job
        return {"host": self.settings["host"], "port": self.settings["port"],
                "user": self.settings["user"], "host_key": self.link.fingerprint,
                "arch": self.probe.arch if self.probe else None,
                "sandbox": self.settings["sandbox"]}  # fmt: skip

    def session(
        self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]], stage: str
    ) -> Answer:
        try:
            return self._session(job, meta, files, stage)
        except SshError as exc:
            msg = f"ssh: {exc}"
            raise BuildError(msg, stage=stage) from None

    def _session(
        self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]], stage: str
    ) -> Answer:
        assert self.probe is not None  # noqa: S101 - prepare() checked it
        target = tg.parse_target(job.request.target)
        meta = {**meta, "python": interpreters.target_python(self.probe, target),
                "family": remote.family_of(target)}  # fmt: skip
        frame = job.work / f"frame-{stage}"
        with contextlib.ExitStack() as stack, frame.open("xb") as out:
            opened = [(n, stack.enter_context(p.open("rb")), p.stat().st_size) for n, p in files]
            write_frame(out, meta, opened)
        code, made = self.link.run(remote.make_job_dir("linux"), timeout=60)
        where = made.decode("utf-8", "replace").strip()
        if code != 0 or not _JOB_DIR.match(where):
            msg = f"could not make a job directory on the build host ({code}: {where[:200]!r})"
            raise SshError(msg)
        try:
            return self._run_in(where, job, frame, stage)
        finally:
            with contextlib.suppress(SshError, OSError):
                self.link.run(remote.remove_dir("linux", where), timeout=120)

    def _run_in(self, where: str, job: DriverJob, frame: Path, stage: str) -> Answer:
        q = remote.quote
        self.link.put(self.toolbox.tar(), f"{where}/toolbox.tar")
        self.link.put(frame, f"{where}/frame")
        frame.unlink()
        unpack = f"cd {q('linux', where)} && mkdir tools out && tar -xf toolbox.tar -C tools"
        code, _ = self.link.run(f"{unpack} && rm toolbox.tar", timeout=120)
        if code != 0:
            msg = f"could not unpack the toolbox on the build host ({code})"
            raise SshError(msg)
        limits, request = job.request.limits, job.request
        tools = f"{where}/tools"
        tool = interpreters.tool_python(self.probe) if self.probe else None
        argv = [tool or "python3", "-I", f"{tools}/run.py",
                "devpi_buildfarm.inside.driver", "--in", f"{where}/frame",
                "--out", f"{where}/out/answer"]  # fmt: skip
        links, dirs, bwrap = self.layout
        env = sandbox.build_env(PATH) | {"DEVPI_BUILDFARM_TOOLS": f"{tools}/run.py"}
        desc = (f"ssh({self.settings['user']}@{self.settings['host']}:{self.settings['port']}, "
                f"host key {self.link.fingerprint}")  # fmt: skip
        if self.settings["sandbox"] == "bubblewrap" and bwrap:
            box = sandbox.Sandbox(env=env, readable=[*dirs, *sandbox.SYSTEM_FILES, tools,
                                                     f"{where}/frame"],
                                  symlinks=links, disk=limits.disk,
                                  extra=("--bind", f"{where}/out", f"{where}/out"))  # fmt: skip
            argv = sandbox.bwrap_argv(bwrap, argv, box, {})
            outer = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
            desc += f", bubblewrap(network=none, disk={limits.disk})"
        else:
            job_dir = f"{where}/job"  # on the build host
            env |= {
                "DEVPI_BUILDFARM_JOB": job_dir,
                "HOME": f"{job_dir}/home",
                "TMPDIR": f"{job_dir}/tmp",  # noqa: S108 - a private dir on the build host
            }
            outer = env
            desc += ", no sandbox (unisolated: one build at a time, its processes killed after)"
        job.isolation = (f"{desc}, rlimits(as={limits.memory}, nproc={limits.pids})) "
                         f"timeout={request.timeout:g}s")  # fmt: skip
        seconds = max(1.0, job.deadline.left())
        # The remote kill comes a second after the deadline, never before it: a build the
        # remote timeout killed is then always reported as timed out, not as a cut answer.
        command = remote.limited("linux", argv, env=outer, seconds=math.ceil(seconds) + 1,
                                 memory=limits.memory, processes=limits.pids,
                                 file_bytes=max(limits.disk, limits.output_bytes))  # fmt: skip
        try:
            status, _ = self.link.run(command, output=job.log, timeout=seconds + 15,
                                      cancelled=job.cancelled)  # fmt: skip
        except SshError as exc:
            if str(exc) != "cancelled" and job.deadline.left() > 0:
                raise
            status = -1
        finally:
            self._stop_leftovers(where)
        if job.cancelled():
            msg = "cancelled"
            raise BuildError(msg, stage="cancelled")
        if job.deadline.left() <= 0:
            msg = f"timed out after {job.deadline.seconds:g} s"
            raise BuildError(msg, stage=stage)
        return self._answer(where, job, status, stage)

    def _stop_leftovers(self, where: str) -> None:
        """Kill what the session left running: its processes (bubblewrap's die with it);
        without a sandbox, every process of the build user."""
        what = "kill -KILL -1" if self.settings["sandbox"] == "none" else (
            f"pkill -KILL -f {remote.quote('linux', where)}")  # fmt: skip
        with contextlib.suppress(SshError, OSError):
            self.link.run(f"{what}; true", timeout=60)

    def _answer(self, where: str, job: DriverJob, status: int, stage: str) -> Answer:
        limit = job.request.limits.output_bytes
        cap = limit + MAX_HEADER_BYTES + 1024 * 1024
        attrs = self.link.lstat(f"{where}/out/answer")
        if attrs is None:
            msg = f"the sandbox ended with {status} and no answer"
            raise BuildError(msg, stage=stage)
        if attrs.permissions is None or not stat.S_ISREG(attrs.permissions):
            msg = "the build's answer is not a regular file"
            raise BuildError(msg, stage=stage, permanent=True)
        if (attrs.size or 0) > cap:
            msg = f"the build's answer is {attrs.size} bytes, over the output limit of {limit}"
            raise BuildError(msg, stage=stage, permanent=True)
        local = job.work / f"answer-{stage}"
        self.link.get(f"{where}/out/answer", local, cap)
        try:
            with local.open("rb") as stream:
                meta, file = read_answer(stream, job.work / "out", limit)
        except (FrameError, OSError) as exc:
            raise BuildError(str(exc), stage=stage, permanent=True) from None
        finally:
            local.unlink(missing_ok=True)
        return Answer(meta=meta, file=file, returncode=status)


def ssh(builder: Builder, options: ServerOptions) -> SshBackend:
    """The ``ssh`` backend of one builder (its host is probed at once)."""
    cache = None
    if options.env_cache_seconds > 0:
        cache = EnvCache(Path(options.workdir) / "wheelhouses", ttl=options.env_cache_seconds)
    backend = SshBackend(builder, workdir=Path(options.workdir), cache=cache,
                         allow_unisolated=options.allow_unisolated)  # fmt: skip
    backend.start()
    return backend


ssh.settings_keys = SETTINGS  # type: ignore[attr-defined]
