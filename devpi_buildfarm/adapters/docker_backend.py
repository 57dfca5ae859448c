"""The ``docker`` backend: every build session in a fresh container of the builder's image,
on a local daemon or a remote one (``docker_host``: ``unix://``, ``tcp://`` with TLS,
``ssh://`` through a socket forwarded by asyncssh with the builder's pinned host key),
through the docker SDK; the steps are those of :mod:`.driver_backend`.

At start the backend removes what a killed server of this farm left on the daemon
(containers and volumes with its label) and probes the image once: its architecture,
whether it runs natively or under emulation (binfmt_misc on the daemon's host), its
CPythons. A target the image cannot build is reported then (``devpi build targets``, the
server log) and its jobs fail at once with the reason.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from devpi_buildfarm.adapters.docker_containers import LABEL, ContainerMaker, remove_all
from devpi_buildfarm.adapters.docker_session import ContainerSession
from devpi_buildfarm.adapters.docker_spare import Spares
from devpi_buildfarm.adapters.docker_toolbox import TOOLBOX_LABEL, ToolboxVolume
from devpi_buildfarm.adapters.driver_backend import DriverBackend
from devpi_buildfarm.adapters.envcache import EnvCache
from devpi_buildfarm.adapters.ssh_link import SshLink
from devpi_buildfarm.adapters.toolbox import toolbox_for
from devpi_buildfarm.core import interpreters
from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.core.builders import BACKEND_KEYS
from devpi_buildfarm.core.ports import BuildLimits
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from devpi_buildfarm.adapters.driver_backend import DriverJob
    from devpi_buildfarm.adapters.session import Answer
    from devpi_buildfarm.config import ServerOptions
    from devpi_buildfarm.core.builders import Builder
    from devpi_buildfarm.core.ports import BuildRequest

log = logging.getLogger(__name__)
SETTINGS: Final = BACKEND_KEYS["docker"]
DEFAULT_USER: Final = "65534:65534"
DEFAULT_SPARE_SECONDS: Final = 60.0
#: (farm scope, docker_host) whose leftovers this process removed
_SWEPT: set[tuple[str, str]] = set()
_SWEPT_LOCK: Final = threading.Lock()


def settings_of(builder: Builder) -> dict[str, Any]:
    """The builder's docker settings with defaults; ``ValueError`` for bad ones."""
    found = {"user": DEFAULT_USER, "cpus": 1.0, **builder.settings}
    if not isinstance(found.get("image"), str) or not found["image"]:
        msg = f"builder {builder.name!r}: the docker backend needs 'image'"
        raise ValueError(msg)
    user = str(found["user"])
    ids = user.split(":")
    if len(ids) > 2 or not all(i.isdigit() for i in ids) or int(ids[0]) == 0:  # noqa: PLR2004
        msg = (f"builder {builder.name!r}: user {user!r} must be a numeric uid:gid other "
               "than root's (a name could mean root in an image)")  # fmt: skip
        raise ValueError(msg)
    host = str(found.get("docker_host") or "")
    tls = [found.get(k) for k in ("tls_ca_cert", "tls_client_cert", "tls_client_key")]
    if host.startswith("tcp://") and not all(tls):
        msg = (f"builder {builder.name!r}: a tcp:// daemon needs tls_ca_cert, tls_client_cert "
               "and tls_client_key (whoever reaches the daemon is root on its host)")  # fmt: skip
        raise ValueError(msg)
    numbers = {}
    for key, low in (("cpus", 0.0), ("spare_seconds", -1.0)):
        value = found.get(key, DEFAULT_SPARE_SECONDS)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= low:
            what = "a positive number" if low == 0 else "a number of seconds, 0 or more"
            msg = f"builder {builder.name!r}: {key} must be {what}, not {value!r}"
            raise ValueError(msg)
        numbers[key] = float(value)
    return {**found, "user": user, **numbers}


def connect(settings: dict[str, Any], tunnel: Tunnel | None = None) -> Any:
    """A docker SDK client for the builder's daemon (the environment's default if unset);
    ``ssh://`` daemons through ``tunnel``."""
    try:
        import docker
    except ImportError as exc:
        msg = "the docker backend needs the docker SDK: pip install 'devpi-foundry[docker]'"
        raise LookupError(msg) from exc
    host = settings.get("docker_host")
    if not host:
        return docker.from_env(timeout=120)
    if tunnel is not None:
        return docker.DockerClient(base_url=f"unix://{tunnel.open()}", timeout=120)
    tls: Any = False
    if str(host).startswith("tcp://"):  # settings_of() made sure all three are set
        cert = (settings["tls_client_cert"], settings["tls_client_key"])
        tls = docker.tls.TLSConfig(client_cert=cert, ca_cert=settings["tls_ca_cert"],
                                   verify=True)  # fmt: skip
    return docker.DockerClient(base_url=host, tls=tls, timeout=120)


class Tunnel:
    """A remote daemon's socket reached over SSH (asyncssh, strict host keys): forwarded to
    a private local socket that the docker SDK talks to."""

    def __init__(self, builder: Builder, settings: dict[str, Any]) -> None:
        where = urlsplit(str(settings["docker_host"]))
        missing = [k for k in ("key_file", "known_hosts") if not settings.get(k)]
        if missing or not where.hostname or not where.username:
            msg = (f"builder {builder.name!r}: docker_host 'ssh://user@host[:port]' needs "
                   "a user, and the keys key_file and known_hosts")  # fmt: skip
            raise ValueError(msg)
        self.link = SshLink(host=where.hostname, port=where.port or 22, user=where.username,
                            key_file=Path(str(settings["key_file"])),
                            known_hosts=Path(str(settings["known_hosts"])))  # fmt: skip
        self.remote = str(settings.get("docker_socket") or "/var/run/docker.sock")
        self.local = Path(tempfile.mkdtemp(prefix="devpi-buildfarm-docker-")) / "docker.sock"

    def open(self) -> str:
        """The local socket, forwarded anew when the connection broke."""
        if not self.link.alive():
            self.local.unlink(missing_ok=True)
            self.link.forward_socket(str(self.local), self.remote)
        return str(self.local)


class DockerBackend(DriverBackend):
    """Builds in containers of one image on one daemon."""

    name = "docker"
    cross_platform = True

    def __init__(self, builder: Builder, *, scope: str, workdir: Path,
                 cache: EnvCache | None = None) -> None:  # fmt: skip
        super().__init__()
        self.builder, self.scope, self.cache = builder, scope, cache
        self.settings = settings_of(builder)
        ssh = str(self.settings.get("docker_host", "")).startswith("ssh://")
        self.tunnel = Tunnel(builder, self.settings) if ssh else None
        self.toolbox = ToolboxVolume(toolbox_for(workdir), scope)
        self.client: Any = None
        self.probe: interpreters.Probe | None = None
        self.native: tuple[str, ...] = ()
        self.image_id = ""
        self.trouble: str | None = "not started"
        self.spares = Spares(self.settings["spare_seconds"], remove_all)
        self._lock = threading.Lock()

    @property
    def isolation(self) -> str:
        return "docker"

    def start(self) -> None:
        """Connect, remove this farm's leftovers, probe the image (problems are kept)."""
        with self._lock:
            try:
                if self.tunnel is not None and not self.tunnel.link.alive():
                    self.client = None  # the tunnel broke: a client for the new one
                self.client = self.client or connect(self.settings, self.tunnel)
                swept = (self.scope, str(self.settings.get("docker_host") or ""))
                with _SWEPT_LOCK:  # once per process and daemon: later, builds and spares
                    if swept not in _SWEPT:  # of this farm's other builders are live there
                        self._remove_leftovers()
                        _SWEPT.add(swept)
                self.image_id = self.client.images.get(self.settings["image"]).id
                self.native = interpreters.native_archs(self.client.info()["Architecture"])
                self.probe = interpreters.parse_probe(self._run_probe())
                self.trouble = None
                limits = BuildLimits.of(self.builder)  # the first build's spare
                maker = self._maker()
                self.spares.make_ahead(maker.shape(limits), maker.spare(limits))
            except Exception as exc:  # noqa: BLE001 - kept as the reason builds cannot run
                self.trouble = f"{type(exc).__name__}: {exc}"[:500]
                log.error("devpi-buildfarm: builder %r cannot build: %s",  # noqa: TRY400
                          self.builder.name, self.trouble)  # fmt: skip

    def _remove_leftovers(self) -> None:
        """What a killed server of this farm left: build containers and their volumes, and
        the toolbox volume (a fresh one is filled at the first session)."""
        for key in (LABEL, TOOLBOX_LABEL):
            label = {"label": f"{key}={self.scope}"}
            for container in self.client.containers.list(all=True, filters=label):
                log.info("devpi-buildfarm: removing leftover container %s", container.name)
                container.remove(force=True)
            for volume in self.client.volumes.list(filters=label):
                volume.remove(force=True)
        self.toolbox.forget()

    def _run_probe(self) -> str:
        output = self.client.containers.run(
            self.settings["image"], ["sh", "-c", interpreters.PROBE_SCRIPT], remove=True,
            user=self.settings["user"], network_mode="none", read_only=True,
            labels={LABEL: self.scope}, platform=self.settings.get("platform"),
            stdout=True, stderr=True,
        )  # fmt: skip
        return bytes(output).decode("utf-8", "replace")

    def status(self, target: str) -> str:
        """``native``, ``emulated (...)`` or ``cannot run: <why>`` for ``target``."""
        return interpreters.runs(self.probe, tg.parse_target(target), native=self.native,
                                 where=f"image {self.settings['image']}",
                                 trouble=self.trouble)  # fmt: skip

    def prepare(self, request: BuildRequest) -> None:
        broken = self.tunnel is not None and not self.tunnel.link.alive()
        if self.trouble is not None or broken:  # the daemon may be back: look again
            self.start()
        state = self.status(request.target)
        if state.startswith("cannot run"):
            raise BuildError(state, stage="isolation", permanent=self.trouble is None)

    def environment(self, job: DriverJob) -> dict[str, Any]:
        return {"image": self.settings["image"], "image_id": self.image_id,
                "runs": self.status(job.request.target), "daemon_arch": self.native[0]
                if self.native else None, "user": self.settings["user"]}  # fmt: skip

    def session(
        self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]], stage: str
    ) -> Answer:
        assert self.probe is not None  # noqa: S101 - prepare() checked it
        target = tg.parse_target(job.request.target)
        tool = interpreters.tool_python(self.probe) or ""
        python = interpreters.target_python(self.probe, target) or ""
        limits = job.request.limits
        job.isolation = (
            f"docker(image={self.settings['image']}@{self.image_id}, "
            f"{self.status(job.request.target)}, user={self.settings['user']}, network=none, "
            f"read-only, disk={limits.disk}, memory={limits.memory}, pids={limits.pids}, "
            f"cpus={self.settings['cpus']:g}) timeout={job.request.timeout:g}s"
        )
        try:
            runner = self._runner((tool, python))
        except Exception as exc:  # noqa: BLE001 - the daemon's failure, not the build's: retried
            msg = f"docker: the toolbox volume: {exc}"[:2000]
            raise BuildError(msg, stage=stage) from None
        return runner.run(job, meta, files, stage)

    def _runner(self, python: tuple[str, str]) -> ContainerSession:
        """A session's runner: the probed image, the toolbox volume (filled at first use)."""
        return ContainerSession(self._maker(), self.toolbox.toolbox, python, spares=self.spares)

    def _maker(self) -> ContainerMaker:
        settings = {**self.settings, "image_id": self.image_id}  # what the probe looked at
        volume = self.toolbox.name(self.client, self.image_id)
        return ContainerMaker(self.client, settings, (self.toolbox.toolbox.root, volume),
                              self.scope)  # fmt: skip


def docker(builder: Builder, options: ServerOptions) -> DockerBackend:
    """The ``docker`` backend of one builder (its daemon is probed at once)."""
    from devpi_buildfarm.adapters.backends import farm_scope

    cache = None
    if options.env_cache_seconds > 0:
        cache = EnvCache(Path(options.workdir) / "wheelhouses", ttl=options.env_cache_seconds)
    backend = DockerBackend(builder, scope=farm_scope(options), workdir=Path(options.workdir),
                            cache=cache)  # fmt: skip
    backend.start()
    return backend


docker.settings_keys = SETTINGS  # type: ignore[attr-defined]
