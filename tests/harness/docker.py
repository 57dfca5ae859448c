"""The Docker daemon the docker-backend tests build on, and what they look for on it."""

from __future__ import annotations

import os
import time
from typing import Any, Final

#: the image .ci/run makes with examples/buildfarm/make-image (Debian bookworm, amd64)
IMAGE: Final = os.environ.get("FOUNDRY_BUILDER_IMAGE", "devpi-foundry/builder:bookworm-amd64")
LABEL: Final = "devpi-buildfarm.farm"
JOB_LABEL: Final = "devpi-buildfarm.job"


def client() -> Any:
    import docker

    return docker.from_env(timeout=60)


def problem(image: str = IMAGE) -> str | None:
    """Why the docker tests cannot run here (``None``: they can)."""
    try:
        found = client()
        found.ping()
        found.images.get(image)
    except Exception as exc:  # noqa: BLE001 - any failure is the reason to report
        hint = (
            " (make it with examples/buildfarm/make-image)" if "image" in str(exc).lower() else ""
        )
        return f"{type(exc).__name__}: {exc}{hint}"
    return None


def leftovers(scope: str, *, within: float = 0.0, spares: bool = True) -> list[str]:
    """Containers and volumes on the daemon that carry this farm's label; with ``within``,
    once none are left or that many seconds have passed (the farm removes a finished
    session's container and volumes in a background thread). ``spares=False`` leaves out
    the backend's spares (docker_spare.py: started containers no session has used yet, and
    their two volumes each); a spare that ran anything is reported all the same, and so are
    the volumes of a spare being made (call with ``within`` to wait for it)."""
    deadline = time.monotonic() + within
    while True:
        found = client()
        label = {"label": f"{LABEL}={scope}"}
        containers = found.containers.list(all=True, filters=label, ignore_removed=True)
        volumes = found.volumes.list(filters=label)
        names = [f"container {c.name}" for c in containers]
        names += [f"volume {v.name}" for v in volumes]
        if not spares:
            pristine = [c for c in containers if "-spare-" in c.name and not c.attrs.get("ExecIDs")]
            spare_volumes = [v for v in volumes if v.attrs["Labels"].get(JOB_LABEL) == "spare"]
            names = [n for n in names if n not in {f"container {c.name}" for c in pristine}]
            for volume in spare_volumes[: 2 * len(pristine)]:
                names.remove(f"volume {volume.name}")
        if not names or time.monotonic() >= deadline:
            return names
        time.sleep(0.2)


def renamed_since(scope: str, since: float) -> list[str]:
    """The names this farm's containers were given since ``since`` (a session that takes
    the spare renames it for its job)."""
    wanted = {"label": f"{LABEL}={scope}", "event": "rename", "type": "container"}
    events = client().events(since=int(since), until=int(time.time()) + 1, decode=True,
                             filters=wanted)  # fmt: skip
    return [str(e.get("Actor", {}).get("Attributes", {}).get("name", "")) for e in events]


def spares(scope: str) -> list[Any]:
    """This farm's spare containers (never renamed: never taken by a session)."""
    label = {"label": f"{LABEL}={scope}"}
    found = client().containers.list(all=True, filters=label, ignore_removed=True)
    return [c for c in found if "-spare-" in c.name]
