"""Decisions about requests that store files: uploads and pushes.

Uploads and pushes are judged by the rules of their target index (downloads: files.py).
Nothing here builds an HTTP response: views.py does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from devpi_policy.adapters.policy import decide_path, index_policy
from devpi_policy.adapters.uploads import upload_naming_problem
from devpi_policy.core.evaluate import Decision, decide
from devpi_policy.core.subject import Subject

if TYPE_CHECKING:
    from collections.abc import Sequence

UPLOAD_ROUTES = frozenset({"/{user}/{index}/", "/{user}/{index}"})
PUSH_RELS = frozenset({"releasefile", "doczip"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    """A decision about a request, and whether its reply must be JSON (pushes)."""

    decision: Decision
    json: bool = False


def _combine(decisions: Sequence[Decision]) -> Decision:
    denials = [r for d in decisions for r in d.denials]
    dry = [r for d in decisions for r in d.dry_run]
    return Decision(denials=tuple(dict.fromkeys(denials)), dry_run=tuple(dict.fromkeys(dry)))


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
    return _combine([decision, decide([(policy.mode, [problem])])])


def _push_request(request: Any) -> tuple[str, str, Any] | None:
    """Project, version and target stage of a push to an index of this server that devpi
    will let through its permission checks; ``None`` for anything else."""
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None  # devpi answers malformed bodies itself
    if not isinstance(data, dict) or not isinstance(data.get("targetindex"), str):
        return None  # pushes to external repositories leave this server
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return None
    target = request.registry["xom"].model.getstage(data["targetindex"])
    if target is None:
        return None
    if not request.has_permission("pkg_read") or not request.has_permission(
        "upload", context=target
    ):
        return None  # devpi refuses it: no rule looks at the release before that
    return name, version, target


def check_push(request: Any) -> Decision | None:
    """A ``devpi push`` (JSON body) to an index of this server: the target's rules apply."""
    found = _push_request(request)
    if found is None:
        return None
    name, version, target = found
    policy = index_policy(target)
    if not policy.active:
        return None
    xom = request.registry["xom"]
    subject = Subject(phase="upload", index=target.name, project=name, version=version)
    decisions = [decide_path(xom, [policy], subject)]
    source = request.context.stage
    try:
        links = source.get_linkstore_perstage(name, version).get_links()
    except source.MissesRegistration:
        links = []
    for link in links:
        if link.rel in PUSH_RELS:
            file_subject = Subject(
                phase="upload",
                index=target.name,
                project=name,
                version=version,
                filename=link.basename,
                stored_in=source.name,
            )
            decisions.append(decide_path(xom, [policy], file_subject))
    return _combine(decisions)


def check_store_request(request: Any) -> Verdict | None:
    """An upload or push request, or ``None`` when the request is neither."""
    if request.method not in ("POST", "PUSH"):
        return None
    if request.POST.get(":action"):
        if not request.has_permission("upload"):
            return None  # devpi refuses it: nothing of the upload is read before that
        decision = check_upload(request)
        return None if decision is None else Verdict(decision=decision)
    decision = check_push(request)
    return None if decision is None else Verdict(decision=decision, json=True)
