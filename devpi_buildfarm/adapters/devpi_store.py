"""devpi's side of builds: which sdists need builds, who caused them, what is published.

A wheel is published at most once per job: the link log of every wheel this plugin stores
names its job, and a job whose wheel is already there is not stored again (a server killed
between storing and marking the job done re-runs the build, then finds it published).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.core import plan
from devpi_buildfarm.core.jobs import JobSpec
from devpi_foundry_common.archive import SDIST_SUFFIXES

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_buildfarm.core.builders import Builder
    from devpi_buildfarm.core.jobs import Job

log = logging.getLogger(__name__)
LOG_WHAT: Final = "build"
LOG_WHO: Final = "devpi-buildfarm"


def is_sdist(basename: str) -> bool:
    return basename.endswith(SDIST_SUFFIXES) and not basename.endswith(".doc.zip")


def targets_of(stage: Any) -> list[str]:
    """The ``buildfarm_targets`` of a private index (mirrors: a later release)."""
    if stage is None or stage.ixconfig.get("type") == "mirror":
        return []
    value = stage.ixconfig.get("buildfarm_targets") or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def after_commit(stage: Any, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current write transaction has committed (devpi calls it
    after the files are in place, in this thread, whose transaction is still open; a
    refused upload never commits)."""
    stage.keyfs.tx.on_commit_success(callback)


def stage_named(xom: Any, name: str) -> Any:
    """The index ``name`` in the current transaction (``None`` when it is gone)."""
    return xom.model.getstage(name)


def upload_target(stage: Any) -> str:
    return str(stage.ixconfig.get("buildfarm_upload_to") or stage.name)


def release_files(stage: Any, project: str, version: str) -> list[Any]:
    try:
        return list(stage.get_linkstore_perstage(project, version).get_links(rel="releasefile"))
    except stage.MissesRegistration:
        return []


def plan_release(
    xom: Any, stage: Any, link: Any, *, release: tuple[str, str], builders: tuple[Builder, ...]
) -> tuple[JobSpec, list[plan.Planned]]:
    """The job template of the sdist ``link`` of ``stage`` and the builds it needs (inside
    a keyfs transaction)."""
    project, version = release
    base = spec_for(stage, project, version, link)
    patterns = targets_of(stage)
    if not patterns:
        return base, []
    upload_to = upload_target(stage)
    wheels = [ln.basename for ln in release_files(stage, project, version)]
    target_stage = xom.model.getstage(upload_to) if upload_to != stage.name else None
    if target_stage is not None:
        wheels += [ln.basename for ln in release_files(target_stage, project, version)]
    planned = plan.plan_builds(base, patterns, builders, wheels)
    refusal = build_refusal(xom, base)
    if refusal is not None:  # recorded, with the reason, instead of built
        planned = [replace(p, job=None, skip=p.skip or refusal) for p in planned]
    return base, planned


ANONYMOUS: Final = ":ANONYMOUS:"


def readers(stage: Any) -> set[str]:
    """Who may read packages of ``stage`` (devpi's, or a read-ACL plugin's, principals)."""
    return {str(p) for p in stage.customizer.get_principals_for_pkg_read()}


def visibility_problem(source: Any, target: Any) -> str | None:
    """Why wheels built from ``source``'s files may not go to ``target``: readers of the
    target who may not read the source (a wheel is never more visible than its sdist)."""
    wider = readers(target) - readers(source)
    if ANONYMOUS in readers(source) or not wider:
        return None
    return (f"{target.name!r} is readable by {', '.join(sorted(wider))}, who may not read "
            f"{source.name}; built wheels are never more visible than their sdists")  # fmt: skip


def build_refusal(xom: Any, spec: JobSpec) -> str | None:
    """Why a planned build of ``spec`` may not run at all (``None``: it may)."""
    if spec.requested_by is None:
        return ("the sdist was uploaded anonymously and builds run and publish as their "
                "uploader; ask for the build with 'devpi build request'")  # fmt: skip
    holder = xom.model.getstage("/".join(spec.sdist_path.split("/", 2)[:2]))
    target = xom.model.getstage(spec.upload_to)
    if holder is None or target is None:
        return None
    return visibility_problem(holder, target)


def spec_for(stage: Any, project: str, version: str, link: Any, target: str = "") -> JobSpec:
    """The job of building the sdist ``link`` (``target``/``builder`` filled in by plans)."""
    sha256 = link.hashes.get("sha256")
    if not sha256:  # older devpi data may lack it: hash the stored file
        sha256 = hashlib.sha256(link.entry.file_get_content()).hexdigest()
    return JobSpec(
        project=project,
        version=version,
        sdist=link.basename,
        sdist_sha256=str(sha256),
        sdist_path=link.entrypath,
        index=stage.name,
        upload_to=upload_target(stage),
        target=target,
        builder="",
        requested_by=uploader_of(stage, link),
    )


def uploader_of(stage: Any, link: Any) -> str | None:
    """Who stored the sdist: the ``who`` of its newest upload or push log entry (builds run
    and publish as this identity); ``None`` when that was anonymous (an index open to
    anonymous uploads: nobody to build as). The index owner only when devpi recorded no
    upload or push at all (imported files)."""
    entries = [e for e in link.get_logs() if e.get("what") in ("upload", "push")]
    if not entries:
        return str(stage.username)
    who = entries[-1].get("who")
    return str(who) if who else None


def sdists_of(stage: Any) -> list[tuple[str, str, Any]]:
    """(project, version, link) of every sdist a private index holds."""
    found: list[tuple[str, str, Any]] = []
    for project in stage.list_projects_perstage():
        for version in stage.list_versions_perstage(project):
            found.extend(
                (project, version, link)
                for link in release_files(stage, project, version)
                if is_sdist(link.basename)
            )
    return found


def already_published(stage: Any, job: Job) -> str | None:
    """The wheel a job already stored in ``stage``, from the link logs."""
    for link in release_files(stage, job.spec.project, job.spec.version):
        for entry in link.get_logs():
            if entry.get("what") == LOG_WHAT and entry.get("job") == job.id:
                return str(link.basename)
    return None
