"""Pyramid wiring of devpi_buildfarm: the ``+buildfarm`` API of each index.

``GET  /{user}/{index}/+buildfarm/jobs``            jobs of this index (``state``, ``project``)
``GET  /{user}/{index}/+buildfarm/jobs/{id}``       one job: state, stage timings, error
``GET  /{user}/{index}/+buildfarm/jobs/{id}/log``   its build log (``offset`` for following)
``POST /{user}/{index}/+buildfarm/jobs/{id}/retry`` and ``.../cancel`` (upload permission)
``GET  /{user}/{index}/+buildfarm/targets``         the index's targets and who builds them
``POST /{user}/{index}/+buildfarm/request``         queue builds of named releases (upload
                                                    permission): ``{"requirements": [...],
                                                    "targets": [...]}``
"""

from __future__ import annotations

import json
import time
from typing import Any

from devpi_server.views import apireturn
from pyramid.events import ApplicationCreated
from pyramid.response import Response
from pyramid.tweens import EXCVIEW

from devpi_buildfarm.adapters import service
from devpi_buildfarm.adapters.devpi import upgrade_index_options
from devpi_buildfarm.adapters.devpi_store import targets_of, upload_target
from devpi_buildfarm.adapters.requesting import request_builds
from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.core.builders import builder_for
from devpi_buildfarm.core.jobs import JobState
from devpi_buildfarm.core.requests import MAX_REQUIREMENTS, parse_requirement
from devpi_buildfarm.errors import JobTransitionError
from devpi_foundry_common.gcfreeze import freeze_startup_heap
from devpi_foundry_common.index_writes import is_index_write_view, wrap_index_write
from devpi_foundry_common.indexconfig import requested_index_options

PREFIX = "/{user}/{index}/+buildfarm"


def index_writes_deriver(view: Any, info: Any) -> Any:
    """Pyramid view deriver: devpi's index PUT/PATCH views store the defaults of
    ``buildfarm_*`` options edited with ``+=``/``-=`` once devpi has authorised the request,
    and start the farm only when devpi accepted a configuration with targets."""
    if not is_index_write_view(info.options):
        return view
    return wrap_index_write(view, before=upgrade_index_options, after=_start_if_targets)


def _start_if_targets(request: Any) -> None:
    options = requested_index_options(request)
    if options and options.get("buildfarm_targets"):
        service.ensure_running(request.registry["xom"])  # an index now wants builds


def _farm(request: Any) -> Any:
    farm = service.ensure_running(request.registry["xom"])
    if farm is None:
        apireturn(409, message="this devpi-server does not run the build farm (replica?)")
    return farm


def _job(request: Any) -> Any:
    try:
        job_id = int(request.matchdict["id"])
    except ValueError:
        apireturn(400, message=f"{request.matchdict['id']!r} is not a job number")
    never = service.never_used(request.registry["xom"])  # a 404 makes no farm
    job = None if never else _farm(request).queue.get(job_id)
    stage = request.context.stage
    if job is None or stage.name != job.spec.index:  # jobs belong to the index that asked
        apireturn(404, message=f"no build job {request.matchdict['id']} on {stage.name}")
    return job


def list_jobs(request: Any) -> None:
    states = [s for s in request.GET.getall("state") if s]
    unknown = [s for s in states if s not in set(JobState)]
    if unknown:
        apireturn(400, message=f"unknown state {unknown[0]!r}; states: {', '.join(JobState)}")
    limit = _limit(request.GET.get("limit"))  # a bad request starts no farm
    if service.never_used(request.registry["xom"]):
        apireturn(200, type="buildjobs", result=[])
    jobs = _farm(request).queue.list_jobs(
        states=states,
        project=request.GET.get("project") or None,
        index=request.context.stage.name,
        limit=limit,
    )
    apireturn(200, type="buildjobs", result=[job.as_json() for job in jobs])


def _limit(text: str | None) -> int:
    """``?limit=``: 1 to 1000 (200 when absent); a 400 names anything else."""
    if not text:
        return 200
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:  # noqa: PLR2004
        apireturn(400, message=f"limit {text!r} is not a number from 1 to 1000")
    return value


def show_job(request: Any) -> None:
    apireturn(200, type="buildjob", result=_job(request).as_json())


def job_log(request: Any) -> Response:
    job = _job(request)
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    data = _farm(request).logs.read(job.id, offset)
    if "application/json" in request.headers.get("Accept", ""):
        result = {
            "id": job.id,
            "state": str(job.state),
            "offset": offset,
            "next_offset": offset + len(data),
            "text": data.decode("utf-8", "replace"),
        }
        apireturn(200, type="buildlog", result=result)
    response = Response(body=data, content_type="text/plain", charset="utf-8")
    response.headers["X-Buildfarm-State"] = str(job.state)
    response.headers["X-Buildfarm-Next-Offset"] = str(offset + len(data))
    return response


def _user_event(request: Any, event: str) -> None:
    job = _job(request)
    queue = _farm(request).queue

    try:
        changed = (
            queue.cancel(job.id, now=time.time())
            if event == "cancel"
            else queue.retry(job.id, now=time.time(), requested_by=request.authenticated_userid)
        )
    except JobTransitionError as exc:
        apireturn(409, message=str(exc))
    if event == "retry":
        _farm(request).wake.set()
    apireturn(200, type="buildjob", result=changed.as_json())


def retry_job(request: Any) -> None:
    _user_event(request, "retry")


def cancel_job(request: Any) -> None:
    _user_event(request, "cancel")


def show_targets(request: Any) -> None:
    farm = _farm(request)
    stage = request.context.stage
    patterns = targets_of(stage)
    rows = []
    for target in tg.expand(patterns):
        builder = builder_for(farm.builders, target)
        rows.append({"target": target, "builder": builder.name if builder else None,
                     "backend": builder.backend if builder else None,
                     "policy": builder.policy_for(target) if builder else None,
                     "runs": farm.backends[builder.name].status(target) if builder else None,
                     })  # fmt: skip
    builders = [
        {"name": b.name, "backend": b.backend, "targets": list(b.targets),
         "manylinux": b.manylinux, "max_jobs": b.max_jobs}
        for b in farm.builders
    ]  # fmt: skip
    result = {
        "index": stage.name,
        "patterns": patterns,
        "upload_to": upload_target(stage),
        "targets": rows,
        "builders": builders,
        "isolation": farm.backend.isolation,
    }
    apireturn(200, type="buildtargets", result=result)


def request_view(request: Any) -> None:
    """Queue builds of the newest matching sdist of each requirement."""
    stage = request.context.stage
    body = _json_body(request)
    requirements, patterns = body.get("requirements"), body.get("targets") or []
    if not isinstance(requirements, list) or not requirements:
        apireturn(400, message="give 'requirements': a non-empty list of requirement strings")
    if not isinstance(patterns, list):
        apireturn(400, message="'targets' must be a list of target patterns")
    problems = [] if len(requirements) <= MAX_REQUIREMENTS else [
        f"{len(requirements)} requirements, at most {MAX_REQUIREMENTS} per request"
    ]  # fmt: skip
    wanted = []
    for text in requirements:
        try:
            wanted.append(parse_requirement(str(text)))
        except ValueError as exc:
            problems.append(str(exc))
    patterns = patterns or targets_of(stage)
    problems += tg.pattern_problems(list(patterns), "target")
    if not patterns:
        problems.append(f"{stage.name} has no buildfarm_targets; name targets with --target")
    upload_to = request.registry["xom"].model.getstage(upload_target(stage))
    if upload_to is None or upload_to.ixconfig.get("type") == "mirror":
        problems.append(
            f"{upload_target(stage)} takes no uploads; request builds on an index that "
            "inherits from it, or set buildfarm_upload_to"
        )
    if problems:
        apireturn(400, message="; ".join(problems))
    xom = request.registry["xom"]
    who = request.authenticated_userid
    if not who or not request.has_permission("upload", upload_to):
        apireturn(403, message=f"{who or 'anonymous'} may not upload to {upload_to.name}, "
                               "where the built wheels would be published")  # fmt: skip

    def may_read(index: str) -> bool:
        holder = xom.model.getstage(index)
        return holder is not None and bool(request.has_permission("pkg_read", holder))

    rows = request_builds(_farm(request), stage, wanted, [str(p) for p in patterns],
                          requested_by=str(who), may_read=may_read,
                          rebuild=_flag(body, "rebuild"))  # fmt: skip
    apireturn(200, type="buildrequest", result=rows)


def _flag(body: dict[str, Any], name: str) -> bool:
    """A boolean of the request body (absent: false); 400 for anything else."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        apireturn(400, message=f"{name!r} must be true or false")
    return bool(value)


def _json_body(request: Any) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        apireturn(400, message="the request body is not JSON")
    if not isinstance(body, dict):
        apireturn(400, message="the request body must be a JSON object")
    return body


def includeme(config: Any) -> None:
    """Called through ``pyramid_config.include("devpi_buildfarm.views")``."""
    config.add_view_deriver(index_writes_deriver, name="devpi_buildfarm_index_writes")
    config.add_subscriber(freeze_startup_heap, ApplicationCreated)
    config.add_tween("devpi_buildfarm.adapters.publisher.tween_factory",
                     under="devpi_server.views.tween_keyfs_transaction", over=EXCVIEW)  # fmt: skip
    routes = [
        ("jobs", "/jobs", list_jobs, "GET", "pkg_read"),
        ("job", "/jobs/{id}", show_job, "GET", "pkg_read"),
        ("log", "/jobs/{id}/log", job_log, "GET", "pkg_read"),
        ("retry", "/jobs/{id}/retry", retry_job, "POST", "upload"),
        ("cancel", "/jobs/{id}/cancel", cancel_job, "POST", "upload"),
        ("targets", "/targets", show_targets, "GET", "pkg_read"),
        ("request", "/request", request_view, "POST", "upload"),
    ]
    for name, path, view, method, permission in routes:
        route = f"devpi_buildfarm_{name}"
        config.add_route(route, PREFIX + path)
        config.add_view(view, route_name=route, request_method=method, permission=permission)
    if config.registry["xom"].config.pluginmanager.has_plugin("devpi-web"):  # its renderer
        config.include("devpi_buildfarm.web_pages")
