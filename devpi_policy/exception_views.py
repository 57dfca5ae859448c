"""``/{user}/{index}/+policy/exceptions``: break-glass exceptions to an index's quarantine.

* ``POST`` (JSON ``{"spec", "reason", "until"}``, permission ``index_modify``: the index
  owner or root) records an exception; who and when come from the authenticated request.
* ``GET`` (``pkg_read``) lists them, each marked ``expired``/``active``.
* ``DELETE .../+policy/exceptions/{id}`` (``index_modify``) revokes one.

A malformed request is a 400 and writes nothing; devpi refuses users without the
permission before these views run. Replicas forward the writes to their primary (devpi's
view deriver for mutating methods).
"""

from __future__ import annotations

import json
from typing import Any, Final

from devpi_server.views import apireturn

from devpi_policy.adapters import exceptions_store
from devpi_policy.adapters.quarantine import now
from devpi_policy.core.age import parse_instant
from devpi_policy.core.exceptions import validate_request

ROUTE: Final = "devpi_policy_exceptions"
ONE_ROUTE: Final = "devpi_policy_exception"
TYPE: Final = "policy-exceptions"


def _body(request: Any) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        apireturn(400, message="the body is not JSON: send {spec, reason, until}")
    if not isinstance(data, dict):
        apireturn(400, message="the body must be a JSON object: {spec, reason, until}")
    return data


def add_exception(request: Any) -> None:
    """``POST``: record an exception."""
    data = _body(request)
    spec, reason, until = (str(data.get(k) or "") for k in ("spec", "reason", "until"))
    moment = now()
    issues = validate_request(spec, reason, until, moment)
    if issues:
        apireturn(400, message="; ".join(issues))
    stage = request.context.stage
    who = request.authenticated_userid or "anonymous"
    added = exceptions_store.add(
        request.registry["xom"], stage.name, spec=spec, reason=reason,
        until=parse_instant(until), who=who, now=moment,
    )  # fmt: skip
    apireturn(201, type="policy-exception", result=added.as_json(moment))


def list_exceptions(request: Any) -> None:
    """``GET``: every exception of the index, expired and revoked ones marked."""
    stage = request.context.stage
    moment = now()
    found = exceptions_store.load(request.registry["xom"], stage.name)
    result = {"index": stage.name, "exceptions": [e.as_json(moment) for e in found]}
    apireturn(200, type=TYPE, result=result)


def revoke_exception(request: Any) -> None:
    """``DELETE .../{id}``: revoke an exception."""
    try:
        number = int(request.matchdict["id"])
    except ValueError:
        apireturn(400, message=f"{request.matchdict['id']!r} is not an exception id")
    stage = request.context.stage
    moment = now()
    who = request.authenticated_userid or "anonymous"
    xom = request.registry["xom"]
    revoked = exceptions_store.revoke(xom, stage.name, number, who=who, now=moment)
    if revoked is None:
        apireturn(404, message=f"no active exception {number} on {stage.name}")
    apireturn(200, type="policy-exception", result=revoked.as_json(moment))


def includeme(config: Any) -> None:
    """Routes and views (called from devpi_policy.views)."""
    config.add_route(ROUTE, "/{user}/{index}/+policy/exceptions")
    config.add_route(ONE_ROUTE, "/{user}/{index}/+policy/exceptions/{id}")
    config.add_view(
        add_exception, route_name=ROUTE, request_method="POST", permission="index_modify"
    )
    config.add_view(list_exceptions, route_name=ROUTE, request_method="GET", permission="pkg_read")
    config.add_view(
        revoke_exception, route_name=ONE_ROUTE, request_method="DELETE",
        permission="index_modify",
    )  # fmt: skip
