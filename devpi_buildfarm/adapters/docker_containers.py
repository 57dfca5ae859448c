"""The docker backend's containers: made for a session (or as the spare, docker_spare.py)
with the limits of :mod:`.docker_session`, and removed off the build's path."""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.adapters.docker_spare import Made
from devpi_buildfarm.core import sandbox

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_buildfarm.core.ports import BuildLimits

log = logging.getLogger(__name__)
LABEL: Final = "devpi-buildfarm.farm"
MiB: Final = 1024 * 1024


class ContainerMaker:
    """Makes a session's container, or the spare for the next session, on one daemon."""

    def __init__(self, client: Any, settings: dict[str, Any], toolbox: tuple[str, str],
                 scope: str) -> None:  # fmt: skip
        self.client, self.settings, self.scope = client, settings, scope
        self.toolbox_root, self.toolbox_volume = toolbox
        self.inbox = f"{self.toolbox_root}-in"

    def shape(self, limits: BuildLimits) -> tuple[Any, ...]:
        """What a container made for a session depends on (a spare must match it)."""
        keys = ("image_id", "user", "cpus", "platform")
        return (*(self.settings.get(k) for k in keys), self.toolbox_volume,
                limits.memory, limits.pids, limits.disk)  # fmt: skip

    def spare(self, limits: BuildLimits) -> Callable[[], Made]:
        """Makes a spare: as a session's container, its input volume as large as the disk."""
        labels = {LABEL: self.scope, "devpi-buildfarm.job": "spare"}
        name = f"devpi-buildfarm-{self.scope}-spare-{uuid.uuid4().hex[:8]}"
        return lambda: self.make(limits, labels, name, max(limits.disk, MiB))

    def make(self, limits: BuildLimits, labels: dict[str, str], name: str,
             inbox_bytes: int) -> Made:  # fmt: skip
        """A started container with its ``/job`` and input volumes; what was made of it is
        removed when making it fails."""
        made: list[Any] = []
        try:
            work = self._volume(labels, limits.disk, "1777", made)
            inbox = self._volume(labels, inbox_bytes, "0755", made)
            container = self.client.containers.create(
                self.settings["image_id"], ["sleep", "infinity"], name=name, labels=labels,
                log_config=_no_log(),  # its PID 1's output: nobody's disk, unbounded
                user=self.settings["user"], network_mode="none", read_only=True, init=True,
                mounts=[_mount(sandbox.JOB_DIR, work), _mount(self.inbox, inbox),
                        _mount(self.toolbox_root, self.toolbox_volume, read_only=True)],
                tmpfs={sandbox.TMP_DIR: f"size={sandbox.TMP_BYTES},mode=1777,exec"},
                shm_size=sandbox.SHM_BYTES, mem_limit=limits.memory, memswap_limit=limits.memory,
                pids_limit=limits.pids, nano_cpus=int(self.settings["cpus"] * 1e9),
                cap_drop=["ALL"], security_opt=["no-new-privileges"], ipc_mode="private",
                ulimits=[_ulimit("core", 0), _ulimit("nofile", 4096)],
                platform=self.settings.get("platform"), working_dir=sandbox.JOB_DIR,
            )  # fmt: skip
            made.insert(0, container)
            container.start()
        except BaseException:
            REAPER.submit(remove_all, made)
            raise
        return Made(container, tuple(made[1:]), inbox_bytes)

    def _volume(self, labels: dict[str, str], size: int, mode: str, made: list[Any]) -> Any:
        volume = self.client.volumes.create(
            driver="local", labels=labels,
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": f"size={size},mode={mode}"},
        )  # fmt: skip
        made.append(volume)
        return volume


#: removes finished sessions' containers and volumes off the build's path (the container
#: is paused or dead by then); its thread finishes what was handed to it before the
#: interpreter exits, and what a killed server did not remove goes at the next start
REAPER: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devpi-buildfarm-reaper")


def remove_all(things: list[Any]) -> None:
    """Remove containers and volumes, in this order (see :func:`_remove`)."""
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
