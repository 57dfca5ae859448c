"""The registry of build backends: ``local``, ``docker`` and ``ssh`` built in, others from
installed packages.

A package adds a backend through the entry-point group ``devpi_buildfarm.backends``: the
entry point's name is the ``backend`` key of a builders file, its object a factory
``factory(builder: Builder, options: ServerOptions) -> BuildBackend`` whose attribute
``settings_keys`` (a tuple of names) lists the builder keys it reads from
``builder.settings``. Each builder gets its backend once, when the farm starts.
"""

from __future__ import annotations

import hashlib
import logging
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.adapters.docker_backend import docker
from devpi_buildfarm.adapters.envcache import EnvCache
from devpi_buildfarm.adapters.local_backend import LocalBackend
from devpi_buildfarm.adapters.ssh_backend import ssh
from devpi_buildfarm.adapters.toolbox import toolbox_for
from devpi_buildfarm.core.builders import BACKEND_KEYS

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_buildfarm.config import ServerOptions
    from devpi_buildfarm.core.builders import Builder
    from devpi_buildfarm.core.ports import BuildBackend

log = logging.getLogger(__name__)
GROUP: Final = "devpi_buildfarm.backends"


def local(builder: Builder, options: ServerOptions) -> BuildBackend:
    """The ``local`` backend (bubblewrap on this host; ``rootfs``: of an image's system)."""
    cache = None
    if options.env_cache_seconds > 0:
        cache = EnvCache(Path(options.workdir) / "wheelhouses", ttl=options.env_cache_seconds)
    rootfs = builder.settings.get("rootfs")
    return LocalBackend(allow_unisolated=options.allow_unisolated,
                        build_user=options.build_user, cache=cache, scope=farm_scope(options),
                        rootfs=Path(str(rootfs)) if rootfs else None,
                        toolbox=toolbox_for(Path(options.workdir)))  # fmt: skip


local.settings_keys = BACKEND_KEYS["local"]  # type: ignore[attr-defined]


def farm_scope(options: ServerOptions) -> str:
    """A name for this server's builds on the host (its cgroups): from its directory."""
    path = str(Path(options.workdir).resolve())
    return "farm-" + hashlib.sha256(path.encode()).hexdigest()[:12]


BUILTIN: Final[dict[str, Callable[[Builder, ServerOptions], BuildBackend]]] = {
    "local": local,
    "docker": docker,
    "ssh": ssh,
}


def factories() -> dict[str, Callable[[Builder, ServerOptions], Any]]:
    """Every backend this server can run: built-in ones and those of installed packages."""
    found: dict[str, Callable[[Builder, ServerOptions], Any]] = dict(BUILTIN)
    for point in entry_points(group=GROUP):
        if point.name in found:
            log.warning("devpi-buildfarm: backend %r of %s ignored (name taken)", point.name,
                        point.value)  # fmt: skip
            continue
        found[point.name] = point.load()
    return found


def settings_keys() -> dict[str, tuple[str, ...]]:
    """Each runnable backend's own builder keys (a factory's ``settings_keys``, if any)."""
    return {
        name: tuple(getattr(factory, "settings_keys", ())) for name, factory in factories().items()
    }


def make_backends(builders: tuple[Builder, ...], options: ServerOptions) -> dict[str, BuildBackend]:
    """Each builder's backend, by builder name; ``LookupError`` for an unknown backend."""
    known = factories()
    made = {}
    for builder in builders:
        factory = known.get(builder.backend)
        if factory is None:
            msg = (f"builder {builder.name!r}: backend {builder.backend!r} is not installed; "
                   f"available: {', '.join(sorted(known))}")  # fmt: skip
            raise LookupError(msg)
        made[builder.name] = factory(builder, options)
    return made
