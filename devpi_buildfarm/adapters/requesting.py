"""``devpi build request``: builds asked for by name, from any sdist an index serves.

A request names requirements (``lxml>=5``); for each, the index's whole view (its own
files, those of its bases, mirrored ones included) gives the newest matching version
with an sdist. Builds are planned as for uploads (a target a wheel already serves is
skipped, with the reason) and published into the index's ``buildfarm_upload_to``. A
mirrored sdist need not be cached yet: the worker fetches it through this server.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from devpi_buildfarm.adapters.devpi_store import (
    build_refusal,
    is_sdist,
    release_files,
    upload_target,
)
from devpi_buildfarm.core import plan
from devpi_buildfarm.core.jobs import JobSpec
from devpi_buildfarm.core.requests import newest_matching

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_buildfarm.adapters.farm import Farm
    from devpi_buildfarm.core.requests import Wanted


class RequestError(ValueError):
    """A requirement that names nothing buildable (reported per requirement)."""


def request_builds(  # noqa: PLR0913 - who asks, where, for what, and their read check
    farm: Farm, stage: Any, wanted: list[Wanted], patterns: list[str], *,
    requested_by: str, may_read: Callable[[str], bool], rebuild: bool = False,
) -> list[dict[str, Any]]:  # fmt: skip
    """One result row per requirement: the jobs it has (new, existing, skipped) or an error.

    ``may_read(index)`` says whether ``requested_by`` may read files of that index: a
    build never reads (and so never publishes) what its identity may not download.
    ``rebuild``: build from the sdist even for targets a wheel of the release already
    serves (wheels built here, from source, instead of the upstream's binaries).
    """
    rows = []
    for item in wanted:
        row: dict[str, Any] = {"requirement": item.text, "project": item.project, "jobs": []}
        try:
            base, wheels = _resolve(farm, stage, item)
            holder = "/".join(base.sdist_path.split("/", 2)[:2])
            if not may_read(holder):
                msg = f"{item.text}: {requested_by} may not read {base.sdist} (on {holder})"
                raise RequestError(msg)  # noqa: TRY301 - reported per requirement below
            base = replace(base, requested_by=requested_by)
            refusal = build_refusal(farm.xom, base)
            if refusal is not None:
                msg = f"{item.text}: {refusal}"
                raise RequestError(msg)  # noqa: TRY301 - reported per requirement below
        except RequestError as exc:
            row["error"] = str(exc)
        else:
            row.update(version=base.version, sdist=base.sdist, error=None)
            row["jobs"] = _queue(farm, base, patterns, [] if rebuild else wheels)
        rows.append(row)
    return rows


def _resolve(farm: Farm, stage: Any, item: Wanted) -> tuple[JobSpec, list[str]]:
    """The job template for ``item`` and the wheels its release already has."""
    try:
        links = list(stage.get_simplelinks(item.project))
    except stage.UpstreamError as exc:
        msg = f"{item.text}: the mirror could not reach its upstream: {exc}"
        raise RequestError(msg) from None
    sdists = [link for link in links if is_sdist(link.basename)]
    version = newest_matching(sorted({link.version for link in sdists}), item.specifier)
    if version is None:
        offered = sorted({link.version for link in sdists})
        what = f"versions with an sdist: {', '.join(offered)}" if offered else "it has no sdist"
        msg = f"{item.text}: no matching sdist on {stage.name} ({what})"
        raise RequestError(msg)
    sdist = next(link for link in sdists if link.version == version)
    sha256 = sdist.hashes.get("sha256") or _stored_sha256(farm, sdist.path)
    if not sha256:
        msg = f"{item.text}: {sdist.basename} has no sha256 (its upstream offers none)"
        raise RequestError(msg)
    wheels = [link.basename for link in links if link.version == version]
    upload_to = upload_target(stage)
    if upload_to != stage.name and (target := farm.xom.model.getstage(upload_to)) is not None:
        wheels += [link.basename for link in release_files(target, item.project, version)]
    base = JobSpec(
        project=item.project,
        version=version,
        sdist=sdist.basename,
        sdist_sha256=str(sha256),
        sdist_path=sdist.path,
        index=stage.name,
        upload_to=upload_to,
        target="",
        builder="",
    )
    return base, [w for w in wheels if w.endswith(".whl")]


def _stored_sha256(farm: Farm, path: str) -> str | None:
    entry = farm.xom.filestore.get_file_entry(path)
    if entry is None:
        return None
    value = entry.hashes.get("sha256") if entry.hashes else None
    return str(value) if value else None


def _queue(farm: Farm, base: JobSpec, patterns: list[str], wheels: list[str]) -> list[Any]:
    planned = plan.plan_builds(base, patterns, farm.builders, wheels)
    result = []
    for item, job_id, created in farm.queue_plan(base, planned):
        if created and item.job is not None:
            farm.metrics.inc("jobs_queued_total")
            # wake the workers once this request's transaction (which may have just
            # recorded the mirror's file entries) is committed
            farm.xom.keyfs.tx.on_commit_success(farm.wake.set)
        job = farm.queue.get(job_id)
        result.append(
            {
                "id": job_id,
                "target": item.target,
                "new": created,
                "state": str(job.state) if job else "unknown",
                "reason": job.reason if job else item.skip,
                "index": job.spec.index if job else base.index,
            }
        )
    return result
