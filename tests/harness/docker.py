"""The Docker daemon the docker-backend tests build on, and what they look for on it."""

from __future__ import annotations

import os
import time
from typing import Any, Final

#: the image .ci/run makes with examples/buildfarm/make-image (Debian bookworm, amd64)
IMAGE: Final = os.environ.get("FOUNDRY_BUILDER_IMAGE", "devpi-foundry/builder:bookworm-amd64")
LABEL: Final = "devpi-buildfarm.farm"


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


def leftovers(scope: str, *, within: float = 0.0) -> list[str]:
    """Containers and volumes on the daemon that carry this farm's label; with ``within``,
    once none are left or that many seconds have passed (the farm removes a finished
    session's container and volumes in a background thread)."""
    deadline = time.monotonic() + within
    while True:
        found = client()
        label = {"label": f"{LABEL}={scope}"}
        names = [f"container {c.name}" for c in found.containers.list(all=True, filters=label)]
        names += [f"volume {v.name}" for v in found.volumes.list(filters=label)]
        if not names or time.monotonic() >= deadline:
            return names
        time.sleep(0.2)
