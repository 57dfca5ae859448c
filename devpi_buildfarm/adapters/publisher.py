"""The server's side of publishing: verify a built wheel, then store it as an upload.

Verification reads the wheel with the bounded reader (name, version and tags must fit the
job; METADATA must name the same release). Storing is an HTTP upload to this server made
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
import hashlib
import json
import logging
from email.parser import BytesParser
from email.policy import compat32
from typing import TYPE_CHECKING, Any, Final

from pyramid.response import Response

from devpi_buildfarm.adapters import uploading
from devpi_buildfarm.adapters.devpi_store import LOG_WHAT, LOG_WHO, already_published
from devpi_buildfarm.core import plan, wheels
from devpi_buildfarm.errors import BuildError
from devpi_foundry_common.archive import ArchiveError, wheel_metadata

if TYPE_CHECKING:
    from pathlib import Path

    from devpi_buildfarm.adapters.credentials import Credentials, Grant
    from devpi_buildfarm.core.jobs import Job

log = logging.getLogger(__name__)
#: form fields sent with the wheel, from its METADATA (as twine sends them)
FIELDS: Final = {"Summary": "summary", "Requires-Python": "requires_python",
                 "License": "license", "License-Expression": "license_expression",
                 "Home-page": "home_page", "Author": "author"}  # fmt: skip
MULTI: Final = {"Requires-Dist": "requires_dist", "Classifier": "classifiers"}


def verify(job: Job, wheel: Path) -> str:
    """The wheel's sha256 once it fits its job; :class:`BuildError` otherwise."""
    spec = job.spec
    problems = plan.result_problems(wheel.name, target=spec.target, policy=spec.policy,
                                    project=spec.project, version=spec.version)  # fmt: skip
    try:
        with wheel.open("rb") as stream:
            name, version = wheels.name_and_version(stream, wheel.name)
    except ArchiveError as exc:
        raise BuildError(str(exc), stage="verify", permanent=True) from None
    if not plan.same_release(name, version, spec.project, spec.version):
        problems.append(
            f"METADATA says {name} {version}, the sdist is {spec.project} {spec.version}"
        )
    if problems:
        raise BuildError("; ".join(problems), stage="verify", permanent=True)
    digest = hashlib.sha256()
    with wheel.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def form_fields(job: Job, wheel: Path) -> list[tuple[str, str]]:
    with wheel.open("rb") as stream:
        raw = BytesParser(policy=compat32).parsebytes(wheel_metadata(stream, wheel.name))
    fields = [("name", job.spec.project), ("version", job.spec.version),
              ("metadata_version", str(raw.get("Metadata-Version", "2.1")))]  # fmt: skip
    fields += [(key, str(raw[header])) for header, key in FIELDS.items() if raw.get(header)]
    fields += [(key, str(v)) for header, key in MULTI.items() for v in raw.get_all(header) or []]
    return [(k, v.replace("\r", " ").replace("\n", " ")) for k, v in fields]


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
