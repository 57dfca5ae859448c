"""A release's license as a request sees it, from whichever place holds it.

Private releases keep their license in devpi's versiondata (``license_spdx``,
``license_sources``, written at upload); mirrored releases, and private ones stored
without an upload (devpi-import, other plugins), in the plugin's store, filled by the
extractor. A release found in neither is ``pending``: its extraction is queued, and the
request waits for it up to ``--license-wait-seconds`` (once per request and project, so
a page listing many pending releases waits once, not per release).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devpi_foundry_common.singletons import per_server
from devpi_license.adapters.devpi import metrics_for
from devpi_license.adapters.extracting import Extractor
from devpi_license.adapters.store import LicenseStore
from devpi_license.config import DRY_RUN, POLICY_MODE, ServerOptions
from devpi_license.core.release import from_versiondata
from devpi_license.core.rules import LicenseRules, verdict

if TYPE_CHECKING:
    from devpi_license.core.release import ReleaseLicense

_deadlines = threading.local()


#: the store, relative to the server directory
STORE_FILE = Path(".devpi-license") / "licenses.sqlite"


def store_for(xom: Any) -> LicenseStore:
    path = Path(str(xom.config.server_path)) / STORE_FILE
    return per_server(xom, "devpi-license", "store", lambda: LicenseStore(path))


def extractor_for(xom: Any) -> Extractor:
    store = store_for(xom)  # outside the factory: devpi's singleton lock is not reentrant
    metrics = metrics_for(xom)
    options = ServerOptions.from_args(xom.config.args)

    def make() -> Extractor:
        return Extractor(xom, store, metrics, workers=options.extract_workers,
                         max_bytes=options.fetch_max_bytes)  # fmt: skip

    return per_server(xom, "devpi-license", "extractor", make)


def existing_extractor(xom: Any) -> Extractor | None:
    """The extractor if something has used it (``None``: devpi_license not in use yet)."""
    try:
        found: Extractor = xom.get_singleton("+devpi-license", "extractor")
    except KeyError:
        return None
    return found


def mirror_has_rules(xom: Any, index: str) -> bool:
    """Whether ``index`` has license rules (call in a transaction)."""
    stage = xom.model.getstage(index)
    return stage is not None and LicenseRules.from_options(stage.ixconfig).active


def _is_mirror(stage: Any) -> bool:
    return bool(stage.ixconfig.get("type") == "mirror")


def stored_license(xom: Any, stage: Any, project: str, version: str) -> ReleaseLicense | None:
    """What is known about a release of ``stage`` now (``None``: pending)."""
    if not _is_mirror(stage):
        found = from_versiondata(stage.get_versiondata_perstage(project, version) or {})
        if found is not None:
            return found
    return store_for(xom).get(stage.name, project, version)


def _deadline(xom: Any, key: tuple[str, str], wait: float) -> float:
    """One waiting budget per request (read transaction) and project."""
    tx = id(getattr(xom.keyfs, "tx", None))
    budget: dict[tuple[int, str, str], float] | None = getattr(_deadlines, "budget", None)
    if budget is None or len(budget) > 1000:  # noqa: PLR2004 - a bound, not a value
        budget = _deadlines.budget = {}
    return budget.setdefault((tx, *key), time.monotonic() + wait)


def release_license(
    xom: Any, stage: Any, project: str, version: str, *, wait: bool = True
) -> ReleaseLicense | None:
    """The license of ``project version`` held by ``stage``; ``None`` while pending
    (extraction is queued, and with ``wait`` awaited for a bounded time)."""
    found = stored_license(xom, stage, project, version)
    if found is not None:
        return found
    metrics_for(xom).inc("pending_total")
    extractor = extractor_for(xom)
    seconds = ServerOptions.from_args(xom.config.args).wait_seconds if wait else 0.0
    if seconds <= 0:
        extractor.request(stage.name, project)
        return None
    deadline = _deadline(xom, (stage.name, project), seconds)
    if time.monotonic() >= deadline:  # this request has waited for this project already
        extractor.request(stage.name, project)
        return None
    store = store_for(xom)
    return extractor.wait_for(
        stage.name, project, lambda: store.get(stage.name, project, version), deadline
    )


def holder_of(xom: Any, index: str, project: str, version: str) -> Any | None:
    """The first index on ``index``'s inheritance path that holds the release."""
    stage = xom.model.getstage(index)
    if stage is None:
        return None
    for candidate in stage.sro():
        if version in (candidate.list_versions_perstage(project) or ()):
            return candidate
    return None


def path_verdict(stage: Any, holder: Any, found: ReleaseLicense | None) -> dict[str, Any]:
    """The verdict of the license rules of every index from ``stage`` down to ``holder``:
    the first that refuses in ``enforce`` mode decides (its reason names it); else the
    queried index's. Refusals of indexes in ``policy_mode=dry-run`` are let through, as
    devpi_policy does, and listed in ``dry_run`` ("would refuse")."""
    first = None
    would_refuse: list[str] = []
    for current in stage.sro():
        rules = LicenseRules.from_options(current.ixconfig)
        result = verdict(rules, found.expression if found else None, pending=found is None,
                         unreadable=found.unreadable if found else ())  # fmt: skip
        if first is None:
            first = (result, current.name)
        if result.refused:
            reason = f"{result.reason} on {current.name}"
            if current.ixconfig.get(POLICY_MODE) != DRY_RUN:
                return {"state": result.state, "refused": True, "reason": reason,
                        "dry_run": would_refuse}  # fmt: skip
            would_refuse.append(reason)
        if current.name == holder.name:
            break
    assert first is not None  # noqa: S101 - sro() starts with the stage itself
    result, name = first
    return {"state": result.state, "refused": False,
            "reason": f"{result.reason} on {name}" if result.reason else None,
            "dry_run": would_refuse}  # fmt: skip
