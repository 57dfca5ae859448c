"""devpi-web pages of devpi_buildfarm (registered only where devpi-web runs).

``GET /{user}/{index}/+buildfarm/builds``       the index's builds, newest first
``GET /{user}/{index}/+buildfarm/builds/{id}``  one build: state, release and sdist, target,
                                                builder, backend and isolation, stage timings,
                                                the wheel (linked), the error, how to retry or
                                                cancel it (for users who may), and its log

The version page of devpi-web links each wheel the farm built to its build (BeforeRender).
Everything shown is escaped by the templates (Chameleon) or here (the version page row).
"""

from __future__ import annotations

import logging
import time
from html import escape
from typing import Any, Final

from devpi_server.views import apireturn
from pyramid.events import BeforeRender

from devpi_buildfarm.adapters import service
from devpi_buildfarm.adapters.devpi import metrics_for
from devpi_buildfarm.client_output import outcome_text, timings_text
from devpi_buildfarm.core.builders import builder_for
from devpi_buildfarm.core.jobs import FINAL
from devpi_foundry_common.failures import log_failure

log = logging.getLogger(__name__)

LIST_ROUTE: Final = "devpi_buildfarm_builds"
JOB_ROUTE: Final = "devpi_buildfarm_build"
VERSION_ROUTE: Final = "/{user}/{index}/{project}/{version}"
#: the log shown on a page (the whole log stays at +buildfarm/jobs/{id}/log)
PAGE_LOG_BYTES: Final = 256 * 1024


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp)) if stamp else "-"


def _farm(request: Any) -> Any:
    farm = service.ensure_running(request.registry["xom"])
    if farm is None:
        apireturn(409, message="this devpi-server does not run the build farm (replica?)")
    return farm


def builds_page(request: Any) -> dict[str, Any]:
    stage = request.context.stage
    jobs = _farm(request).queue.list_jobs(states=[], project=None, index=stage.name, limit=200)
    rows = [{**job.as_json(), "url": _job_url(request, stage, job.id),
             "outcome": outcome_text(job.as_json()), "created_text": _when(job.created)}
            for job in jobs]  # fmt: skip
    return {"title": f"{stage.name}: builds", "index": stage.name, "jobs": rows}


def build_page(request: Any) -> dict[str, Any]:
    farm, stage = _farm(request), request.context.stage
    try:
        job = farm.queue.get(int(request.matchdict["id"]))
    except ValueError:
        job = None
    if job is None or job.spec.index != stage.name:
        apireturn(404, message=f"no build job {request.matchdict['id']} on {stage.name}")
    data = job.as_json()
    builder = builder_for(farm.builders, job.spec.target)
    text = farm.logs.read(job.id, 0)
    cut = len(text) > PAGE_LOG_BYTES
    may_act = bool(request.has_permission("upload"))
    rows = [
        ("state", data["state"]),
        ("release", f"{job.spec.project} {job.spec.version}"),
        ("sdist", job.spec.sdist),
        ("target", job.spec.target),
        ("builder", job.spec.builder or "-"),
        ("backend", builder.backend if builder else "-"),
        ("isolation", job.isolation or "-"),
        ("requested by", job.spec.requested_by or "-"),
        ("attempts", f"{job.attempts} of {job.max_attempts}"),
        ("created", _when(job.created)),
        ("started", _when(job.started)),
        ("finished", _when(job.finished)),
        ("timings", timings_text(job.timings) or "-"),
    ]
    if job.error or job.reason:
        rows.append(("error" if job.error else "reason", job.error or job.reason))
    return {
        "title": f"build {job.id}: {job.spec.project} {job.spec.version} for {job.spec.target}",
        "rows": rows,
        "wheel": job.wheel,
        "wheel_url": _wheel_url(request, job) if job.wheel else None,
        "sdist_url": request.route_url("/{user}/{index}/{project}/{version}",
                                       user=stage.username, index=stage.index,
                                       project=job.spec.project, version=job.spec.version),
        "list_url": request.route_url(LIST_ROUTE, user=stage.username, index=stage.index),
        "log": text[:PAGE_LOG_BYTES].decode("utf-8", "replace"),
        "log_cut": cut,
        "log_url": request.route_url("devpi_buildfarm_log", user=stage.username,
                                     index=stage.index, id=job.id),
        "actions": _actions(job, stage.name) if may_act else [],
    }  # fmt: skip


def _actions(job: Any, index: str) -> list[str]:
    """The commands that act on the job, for users who may (upload permission)."""
    if job.state in ("failed", "cancelled"):
        return [f"devpi build retry {job.id} --index {index}"]
    if job.state not in FINAL:
        return [f"devpi build cancel {job.id} --index {index}"]
    return []


def _job_url(request: Any, stage: Any, job_id: int) -> str:
    return str(request.route_url(JOB_ROUTE, user=stage.username, index=stage.index, id=job_id))


def _wheel_url(request: Any, job: Any) -> str:
    """The version page of the release in the index the wheel went to."""
    user, _, index = job.spec.upload_to.partition("/")
    return str(request.route_url(VERSION_ROUTE, user=user, index=index,
                                 project=job.spec.project, version=job.spec.version))  # fmt: skip


def on_before_render(event: Any) -> None:
    """devpi-web's version page: link each wheel the farm built to its build."""
    request, value = event.get("request"), event.rendering_val
    if request is None or request.matched_route is None or not isinstance(value, dict):
        return
    if request.matched_route.name != VERSION_ROUTE or "infos" not in value:
        return
    try:
        farm = service.existing_farm(request.registry["xom"])
        if farm is None:
            return
        context = value["_context"]
        stage, project, version = context.stage, context.project, value["resolved_version"]
        jobs = farm.queue.list_jobs(states=["succeeded"], project=project, index=None, limit=200)
        built = [j for j in jobs if j.spec.version == version and j.wheel
                 and j.spec.upload_to == stage.name]  # fmt: skip
        if not built:
            return
        links = []
        for job in built:
            holder = request.registry["xom"].model.getstage(job.spec.index)
            url = _job_url(request, holder, job.id)
            wheel = escape(str(job.wheel))
            links.append(f"<a href='{escape(url)}'>{wheel}</a> (build {job.id})")
    except Exception as exc:  # noqa: BLE001 - the page renders without the row rather than fail
        log_failure(log, exc, "could not add the build links",
                    metrics_for(request.registry["xom"]))  # fmt: skip
        return
    value["infos"].append(("built wheels", "<br/>\n".join(links)))  # version.pt: structure


def includeme(config: Any) -> None:
    """Called from devpi_buildfarm.views when devpi-web runs."""
    config.add_subscriber(on_before_render, BeforeRender)
    config.add_route(LIST_ROUTE, "/{user}/{index}/+buildfarm/builds")
    config.add_route(JOB_ROUTE, "/{user}/{index}/+buildfarm/builds/{id}")
    for view, route, template in ((builds_page, LIST_ROUTE, "builds"),
                                  (build_page, JOB_ROUTE, "build")):  # fmt: skip
        config.add_view(view, route_name=route, request_method="GET", permission="pkg_read",
                        renderer=f"devpi_buildfarm:templates/{template}.pt")  # fmt: skip
