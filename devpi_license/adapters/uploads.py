"""Recording the license of an uploaded file in its release's versiondata.

devpi calls ``devpiserver_on_upload_sync`` inside the upload's write transaction, after
the file is stored but before the view adds the file's "upload" log entry; writing the
versiondata there would replace the record that entry is added to (and lose it). So the
hook only notes the upload, and a tween inside devpi's transaction tween records the
license once the view is done: the license read from the file (already read when a rule
asked, else now, with the bounded reader) is merged with what the release's other files
said and written as the non-``+`` versiondata keys ``license_spdx`` and
``license_sources``. They
replicate, survive devpi-export/devpi-import without the plugin, travel with ``devpi
push``, and show on devpi-web's version page.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from pyramid.threadlocal import get_current_request

from devpi_foundry_common.failures import log_failure
from devpi_license.adapters.devpi import metrics_for
from devpi_license.adapters.reading import license_of_file
from devpi_license.core.release import file_kind, from_versiondata, with_file

if TYPE_CHECKING:
    from devpi_license.core.extract import LicenseInfo

log = logging.getLogger(__name__)
#: where the license of an upload read for a rule is kept for the rest of the request
ENVIRON_KEY: Final = "devpi_license.upload"
#: the upload devpi stored in this request: (index, project, version)
MARK_KEY: Final = "devpi_license.uploaded"


def remember(request: Any, filename: str, info: LicenseInfo) -> None:
    request.environ[ENVIRON_KEY] = (filename, info)


def _uploaded(request: Any) -> tuple[str, LicenseInfo] | None:
    known = request.environ.get(ENVIRON_KEY)
    if known is not None:
        return known  # type: ignore[no-any-return]
    content = request.POST.get("content")
    if content is None or not getattr(content, "filename", None):
        return None
    content.file.seek(0)
    try:  # read in place: an upload can be large
        return content.filename, license_of_file(content.filename, content.file)
    finally:
        content.file.seek(0)


def mark_upload(stage: Any, project: str, version: str) -> None:
    """Called from ``devpiserver_on_upload_sync``: note what :func:`record_upload` records."""
    request = get_current_request()
    if request is not None and request.POST.get(":action") == "file_upload":
        request.environ[MARK_KEY] = (stage.name, project, version)


def upload_tween_factory(handler: Any, registry: Any) -> Any:
    """A tween inside devpi's transaction tween: records a noted upload after its view."""
    xom = registry["xom"]

    def upload_tween(request: Any) -> Any:
        response = handler(request)
        mark = request.environ.pop(MARK_KEY, None)
        if mark is not None and response.status_code < 300:  # noqa: PLR2004
            try:
                stage = xom.model.getstage(mark[0])
                record_upload(request, stage, mark[1], mark[2])
            except Exception as exc:  # noqa: BLE001 - the upload stands; serving extracts the license later
                log_failure(log, exc, f"could not record the license of {mark[1]} {mark[2]}",
                            metrics_for(xom))  # fmt: skip
        return response

    return upload_tween


def record_upload(request: Any, stage: Any, project: str, version: str) -> bool:
    """Merge the uploaded file's license into the release's versiondata."""
    uploaded = _uploaded(request)
    if uploaded is None:
        return False
    filename, info = uploaded
    current = stage.get_versiondata_perstage(project, version) or {}
    if not current:
        return False
    # versiondata shows in devpi's JSON API, which devpi_policy filters by file: name the
    # kind of file, not the file, so a file hidden by a rule does not leak through here
    kind = file_kind(filename)
    info = replace(info, evidence=tuple(
        replace(e, value=e.value.replace(filename, kind), how=e.how.replace(filename, kind))
        for e in info.evidence
    ))  # fmt: skip
    merged = with_file(from_versiondata(current), kind, info)
    stage.set_versiondata(
        {"name": current["name"], "version": current["version"], **merged.as_versiondata()}
    )
    log.info("%s %s on %s: license %s", project, version, stage.name, merged.expression)
    return True
