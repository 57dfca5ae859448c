"""``devpi policy check``: what an index would do with a project, release or file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from devpi_policy.adapters.policy import decide_path, index_policy
from devpi_policy.core.spec import newest_versions, parse_check_spec, spec_held
from devpi_policy.core.subject import Subject
from devpi_policy.errors import InvalidSpecError

#: versions of a project ``+policy/check`` judges for ``hidden`` (the newest ones)
HIDDEN_MAX = 20

if TYPE_CHECKING:
    from devpi_policy.core.evaluate import Decision
    from devpi_policy.core.spec import CheckSpec
    from devpi_policy.core.subject import Phase


def _as_dict(decision: Decision) -> dict[str, Any]:
    return {
        "allowed": decision.allowed,
        "reasons": list(decision.denials),
        "dry_run": list(decision.dry_run),
    }


def _holders(stages: list[Any], spec: CheckSpec) -> tuple[list[str], set[str], bool]:
    """The indexes on the path that hold SPEC (rules aside: what the rules hide counts),
    every version of SPEC's project they hold, and whether every index could answer (a
    mirror's upstream may be unreachable)."""
    held, complete, every = [], True, set()
    for stage in stages:
        try:
            versions = stage.list_versions_perstage(spec.project)
            every.update(versions)
            names = []
            if spec.filename is not None and versions:
                names = [link.basename for link in stage.get_simplelinks_perstage(spec.project)]
        except stage.UpstreamNotFoundError:
            continue
        except stage.UpstreamError:
            complete = False
            continue
        if spec_held(spec, versions, names):
            held.append(stage.name)
    return held, every, complete


def check_spec(stage: Any, text: str, newer_than: str | None = None) -> dict[str, Any]:
    """The decisions of ``stage`` about SPEC.

    ``sources`` has one entry per index on the inheritance path: whether SPEC, were that
    index holding it, would be served through ``stage``. ``allowed``/``reasons`` are the
    answer for every source at once (the strictest). ``upload`` says whether an upload to
    ``stage`` would be accepted (``None`` for mirrors). ``held_by`` names the indexes on
    the path that hold SPEC; ``exists`` is whether one does (``None``: an index could not
    be asked). ``mode`` is the queried index's ``policy_mode``. For a project SPEC,
    ``hidden`` lists which of its newest versions (newer than ``newer_than`` when given)
    the rules hide, with the reasons.
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
    held_by, versions, complete = _holders(stages, spec)
    hidden = []
    if spec.version is None and spec.filename is None:
        for version in newest_versions(versions, newer_than=newer_than, limit=HIDDEN_MAX):
            release = Subject(phase="check", index=stage.name, project=spec.project,
                              version=version, filename=None, stored_in=None)  # fmt: skip
            decision = decide_path(xom, path, release)
            if not decision.allowed:
                hidden.append({"version": version, "reasons": list(decision.denials)})
    return {
        "index": stage.name,
        "mode": path[0].mode,
        "spec": text,
        "project": spec.project,
        "version": spec.version,
        "filename": spec.filename,
        **_as_dict(overall),
        "sources": sources,
        "upload": upload,
        "held_by": held_by,
        "hidden": hidden,
        "exists": True if held_by else (False if complete else None),
    }


def parse_newer_than(query: Any) -> str | None:
    """``?newer_than=VERSION`` of ``+policy/check``; a malformed one is an InvalidSpecError."""
    text = query.get("newer_than")
    if not text:
        return None
    try:
        Version(text)
    except InvalidVersion as exc:
        msg = f"newer_than={text!r} is not a version ({exc})"
        raise InvalidSpecError(msg) from exc
    return str(text)
