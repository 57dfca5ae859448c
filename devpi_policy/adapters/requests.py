"""Decisions about requests that store files: uploads (pushes: pushes.py).

Uploads are judged by the rules of their target index (downloads: files.py). Nothing
here builds an HTTP response: views.py does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

from devpi_policy.adapters import pushes
from devpi_policy.adapters.policy import decide_path, index_policy
from devpi_policy.adapters.uploads import upload_naming_problem
from devpi_policy.core.evaluate import Decision, combine, decide
from devpi_policy.core.subject import Subject

UPLOAD_ROUTES = frozenset({"/{user}/{index}/", "/{user}/{index}"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    """A decision about a request, and whether its reply must be JSON (pushes)."""

    decision: Decision
    json: bool = False


def _form_text(form: Any, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def check_upload(request: Any) -> Decision | None:
    """An upload (``:action`` form): file_upload, doc_upload or submit (register). A file
    whose name, form and core metadata name different releases is refused too."""
    stage = request.context.stage
    policy = index_policy(stage)
    if not policy.active or stage.ixconfig.get("type") == "mirror":
        return None
    form = request.POST
    name = _form_text(form, "name")
    version = _form_text(form, "version") or None
    content = form.get("content")
    filename = getattr(content, "filename", None) if form.get(":action") == "file_upload" else None

    def read() -> bytes:
        content.file.seek(0)
        data: bytes = content.file.read()
        content.file.seek(0)
        return data

    def stream() -> IO[bytes]:
        content.file.seek(0)
        return content.file  # type: ignore[no-any-return]

    subject = Subject(
        phase="upload",
        index=stage.name,
        project=name,
        version=version,
        filename=filename or None,
        stored_in=stage.name,
        content=read if filename else None,
        stream=stream if filename else None,
    )
    try:
        decision = decide_path(stage.xom, [policy], subject)
        problem = upload_naming_problem(filename, name, version, content.file) if filename else None
    finally:
        if filename:
            content.file.seek(0)
    if problem is None:
        return decision
    return combine([decision, decide([(policy.mode, [problem])])])


def check_store_request(request: Any) -> Verdict | None:
    """An upload or push request, or ``None`` when the request is neither."""
    if request.method not in ("POST", "PUSH"):
        return None
    if request.POST.get(":action"):
        if not request.has_permission("upload"):
            return None  # devpi refuses it: nothing of the upload is read before that
        decision = check_upload(request)
        return None if decision is None else Verdict(decision=decision)
    decision = pushes.check_push(request)
    return None if decision is None else Verdict(decision=decision, json=True)
