"""Decisions about ``devpi push``: a release leaves an index only through its rules.

A push (a POST or PUSH of JSON ``{name, version, ...}`` to the source index's URL) is
judged, once devpi would let it through its own permission checks, by

* the rules of the **source** index (the URL's): a release it refuses to serve does not
  leave it, whether to an index of this server or to an external repository;
* for a push to an index of this server (``targetindex``), the rules of the target, as an
  upload would be;
* for a push out to an external repository (``posturl``), the server's push-out options
  (``--policy-push-out``, ``--policy-push-out-url``: core/pushout.py).

Reasons read as for uploads (``'evil-pkg 1.0' is excluded by policy_exclude 'evil-*' on
team/src``). Nothing here builds an HTTP response: views.py does.
"""

from __future__ import annotations

import json
from typing import Any, Final

from devpi_policy.adapters.policy import decide_path, index_policy
from devpi_policy.config import ServerOptions
from devpi_policy.core.evaluate import Decision, combine
from devpi_policy.core.pushout import PushOutRequest, push_out_problem
from devpi_policy.core.subject import Phase, Subject

PUSH_RELS: Final = frozenset({"releasefile", "doczip"})


def _push_body(request: Any) -> dict[str, Any] | None:
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None  # devpi answers malformed bodies itself
    if not isinstance(data, dict):
        return None
    if not isinstance(data.get("name"), str) or not isinstance(data.get("version"), str):
        return None
    return data


def _release_decision(
    stage: Any, source: Any, release: tuple[str, str], phase: Phase
) -> Decision | None:
    """The rules of ``stage`` on ``release`` (name, version) of ``source`` and on each of
    its files (``None``: ``stage`` has no rules). ``phase`` is ``serve`` for the source's
    own rules, ``upload`` for a target's (as uploads are judged, release by its name)."""
    policy = index_policy(stage)
    if not policy.active:
        return None
    name, version = release
    holder = source.name if phase == "serve" else None
    subject = Subject(phase=phase, index=stage.name, project=name, version=version,
                      stored_in=holder)  # fmt: skip
    decisions = [decide_path(stage.xom, [policy], subject)]
    try:
        links = source.get_linkstore_perstage(name, version).get_links()
    except source.MissesRegistration:
        links = []
    decisions += [
        decide_path(stage.xom, [policy], Subject(phase=phase, index=stage.name, project=name,
                    version=version, filename=link.basename, stored_in=source.name))
        for link in links
        if link.rel in PUSH_RELS
    ]  # fmt: skip
    return combine(decisions)


def _push_out_decision(request: Any, source: Any, posturl: object) -> Decision:
    options = ServerOptions.from_args(request.registry["xom"].config.args)
    asked = PushOutRequest(
        index=source.name,
        url=str(posturl),
        user=request.authenticated_userid,
        is_owner=bool(request.has_permission("index_modify")),
    )
    problem = push_out_problem(options.push_out, options.push_out_urls, asked)
    return Decision(denials=(problem,) if problem else ())


def check_push(request: Any) -> Decision | None:
    """A ``devpi push`` from the index in the URL; ``None`` when nothing here applies or
    devpi refuses it itself (no rule looks at a release before devpi's permission check)."""
    data = _push_body(request)
    if data is None or not request.has_permission("pkg_read"):
        return None
    xom = request.registry["xom"]
    source = request.context.stage
    release = (data["name"], data["version"])
    decisions = [_release_decision(source, source, release, "serve")]
    targetindex = data.get("targetindex")
    if targetindex is None:
        decisions.append(_push_out_decision(request, source, data.get("posturl")))
    else:
        target = xom.model.getstage(targetindex) if isinstance(targetindex, str) else None
        if target is None or not request.has_permission("upload", context=target):
            return None  # devpi answers: no such index, or no permission there
        decisions.append(_release_decision(target, source, release, "upload"))
    found = [d for d in decisions if d is not None]
    return combine(found) if found else None
