"""``devpi policy check``: what an index would do with a project, release or file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devpi_policy.adapters.policy import decide_path, index_policy
from devpi_policy.core.spec import parse_check_spec
from devpi_policy.core.subject import Subject

if TYPE_CHECKING:
    from devpi_policy.core.evaluate import Decision
    from devpi_policy.core.subject import Phase


def _as_dict(decision: Decision) -> dict[str, Any]:
    return {
        "allowed": decision.allowed,
        "reasons": list(decision.denials),
        "dry_run": list(decision.dry_run),
    }


def check_spec(stage: Any, text: str) -> dict[str, Any]:
    """The decisions of ``stage`` about SPEC.

    ``sources`` has one entry per index on the inheritance path: whether SPEC, were that
    index holding it, would be served through ``stage``. ``allowed``/``reasons`` are the
    answer for every source at once (the strictest). ``upload`` says whether an upload to
    ``stage`` would be accepted (``None`` for mirrors).
    """
    spec = parse_check_spec(text)
    stages = list(stage.sro())
    path = [index_policy(s) for s in stages]
    xom = stage.xom

    def subject(phase: Phase, holder: str | None) -> Subject:
        return Subject(
            phase=phase,
            index=stage.name,
            project=spec.project,
            version=spec.version,
            filename=spec.filename,
            stored_in=holder,
        )

    sources = [
        {"index": s.name, **_as_dict(decide_path(xom, path[: i + 1], subject("check", s.name)))}
        for i, s in enumerate(stages)
    ]
    overall = decide_path(xom, path, subject("check", None))
    upload = None
    if stage.ixconfig.get("type") != "mirror":
        upload = _as_dict(decide_path(xom, path[:1], subject("upload", stage.name)))
    return {
        "index": stage.name,
        "spec": text,
        "project": spec.project,
        "version": spec.version,
        "filename": spec.filename,
        **_as_dict(overall),
        "sources": sources,
        "upload": upload,
    }
