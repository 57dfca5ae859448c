"""How devpi_policy says no over HTTP: a 403 whose reason phrase is the policy's reason.

devpi and twine print the reason phrase; pushes also get the reason as the JSON
``message`` devpi-client shows. Every check is counted in the plugin's metrics; every
refusal, and every would-be refusal of ``dry-run`` mode, is queued for the audit
(adapters/audit.py) under a request id the 403 carries in its reason phrase, its body and
its ``X-Devpi-Policy-Request-Id`` header.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Final, NoReturn

from pyramid.httpexceptions import HTTPForbidden

from devpi_policy.adapters import audit

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from devpi_foundry_common.metrics import Metrics
    from devpi_policy.core.evaluate import Decision

log = logging.getLogger(__name__)
_MAX_REASON: Final = 900
#: Registry keys of this server's metrics and policy cache, looked up once in includeme:
#: every download uses both, and devpi's singleton lookup takes a lock all threads share.
METRICS: Final = "devpi_policy.metrics"
REQUEST_ID_HEADER: Final = "X-Devpi-Policy-Request-Id"
POLICIES: Final = "devpi_policy.policies"


class PolicyRefused(HTTPForbidden):  # type: ignore[misc]  # pyramid ships no type hints
    """403 whose reason phrase (status line) is the policy's reason, ending with the
    request id the audit keeps (``devpi policy audit --request ID`` finds its row)."""

    def __init__(self, message: str, *, as_json: bool, request_id: str | None = None) -> None:
        tail = f" [request {request_id}]" if request_id else ""
        self.title = _reason_phrase(message, len(tail)) + tail
        headers = {REQUEST_ID_HEADER: request_id} if request_id else {}
        if as_json:
            reply = {"type": "policy", "message": message + tail, "request_id": request_id}
            body = json.dumps(reply).encode()
            super().__init__(body=body, content_type="application/json", headers=headers)
        else:
            super().__init__(detail=message + tail, headers=headers)


def _reason_phrase(message: str, room: int = 0) -> str:
    """One latin-1 line for the HTTP status line: user-controlled names cannot inject."""
    text = " ".join(message.split())
    text = text.encode("latin-1", "backslashreplace").decode("latin-1")
    limit = _MAX_REASON - room
    return text if len(text) <= limit else text[: limit - 3] + "..."


def metrics(request: Any) -> Metrics:
    found: Metrics = request.registry[METRICS]
    return found


def enforce(
    request: Any, decision: Decision, what: Callable[[], str], *, as_json: bool = False
) -> None:
    """Count the check; log and refuse when it denies. ``what`` names the request for the
    log, and is only called when there is something to log."""
    counters = metrics(request)
    counters.inc("checks_total")
    if decision.dry_run:
        counters.inc("dry_run_total")
        rid = audit.record(request, decision.dry_run, "dry-run")
        log.warning("policy dry-run, %s let through (request %s): %s", what(), rid,
                    "; ".join(decision.dry_run))  # fmt: skip
    if decision.allowed:
        return
    counters.inc("denials_total")
    refuse(request, decision.denials, what, as_json=as_json)


def refuse(
    request: Any, reasons: Sequence[str], what: Callable[[], str], *, as_json: bool = False
) -> NoReturn:
    """Audit the refusal, log it and raise the 403 (with the audit's request id)."""
    rid = audit.record(request, reasons, "enforce")
    reason = "; ".join(reasons)
    # debug only: the audit keeps every refusal (one INFO line each cost refused-heavy
    # serving a quarter of its rate in contention for the log handler's lock)
    log.debug("policy refused %s (request %s): %s", what(), rid, reason)
    message = f"policy: {reason}"
    raise PolicyRefused(message, as_json=as_json, request_id=rid)
