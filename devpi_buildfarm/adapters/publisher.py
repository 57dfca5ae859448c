"""The server's side of publishing: the wheel is verified (:mod:`.wheel_check`), then
stored as an upload. Storing is an HTTP upload to this server made
with the job credential (:mod:`.uploading`): devpi checks the identity's upload
permission on ``buildfarm_upload_to``, devpi_policy and devpi_license judge the wheel,
and a refusal leaves nothing behind. Inside that upload's transaction, :func:`tween_factory`
answers at once when this job's wheel is already stored (a server killed between storing
and recording the job) and adds the wheel's ``build`` log entry (job, target, builder,
sdist) next to devpi's ``upload`` entry.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any

from pyramid.response import Response

from devpi_buildfarm.adapters import uploading
from devpi_buildfarm.adapters.devpi_store import (
    LOG_WHAT,
    LOG_WHO,
    already_published,
    build_refusal,
)
from devpi_buildfarm.adapters.wheel_check import form_fields

if TYPE_CHECKING:
    from pathlib import Path

    from devpi_buildfarm.adapters.credentials import Credentials, Grant
    from devpi_buildfarm.core.jobs import Job

log = logging.getLogger(__name__)


def publish(server_url: str, job: Job, grant: Grant, wheel: Path) -> tuple[str, bool]:
    """Upload ``wheel`` into the job's ``upload_to`` as the job's identity."""
    body = uploading.upload(f"{server_url}/{job.spec.upload_to}/", username=grant.username,
                            password=grant.password, wheel=wheel,
                            fields=form_fields(job, wheel))  # fmt: skip
    try:
        already = json.loads(body).get("result", {}).get("already_published")
    except (ValueError, AttributeError):
        already = None
    if already:
        return str(already), False
    log.info("published %s into %s as %s (job %s)", wheel.name, job.spec.upload_to,
             grant.username, job.id)  # fmt: skip
    return wheel.name, True


def _grant_of(request: Any, credentials: Credentials) -> Grant | None:
    header = request.headers.get("Authorization", "")
    if request.method != "POST" or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return credentials.find(user, password)


def tween_factory(handler: Any, registry: Any) -> Any:
    """Inside devpi's transaction: exactly-once publishing and the ``build`` log entry."""
    xom = registry["xom"]

    def tween(request: Any) -> Any:
        from devpi_buildfarm.adapters.service import existing_farm

        farm = existing_farm(xom)
        grant = _grant_of(request, farm.credentials) if farm is not None else None
        if grant is None or request.POST.get(":action") != "file_upload":
            return handler(request)
        job = farm.queue.get(grant.job_id) if farm is not None else None
        stage = xom.model.getstage(grant.upload_to)
        if job is None or stage is None:
            return handler(request)
        refusal = build_refusal(xom, job.spec)
        if refusal is not None:  # readers changed since the job was queued
            body = json.dumps({"message": refusal})
            return Response(body=body, status=403, content_type="application/json",
                            charset="utf-8")  # fmt: skip
        done = already_published(stage, job)
        if done is not None:
            body = json.dumps({"result": {"already_published": done}})
            return Response(body=body, content_type="application/json", charset="utf-8")
        response = handler(request)
        if response.status_code == 200:  # noqa: PLR2004
            _add_build_log(stage, job, request.POST["content"].filename)
        return response

    return tween


def _add_build_log(stage: Any, job: Job, basename: str) -> None:
    linkstore = stage.get_mutable_linkstore_perstage(job.spec.project, job.spec.version)
    for link in linkstore.get_links(rel="releasefile"):
        if link.basename == basename:
            link.add_log(LOG_WHAT, LOG_WHO, job=job.id, target=job.spec.target,
                         builder=job.spec.builder, sdist=job.spec.sdist,
                         sdist_sha256=job.spec.sdist_sha256)  # fmt: skip
            linkstore._mark_dirty()  # noqa: SLF001 - devpi's way to store an edited log
            return
