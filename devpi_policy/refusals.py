"""How devpi_policy says no over HTTP: a 403 whose reason phrase is the policy's reason.

devpi and twine print the reason phrase; pushes also get the reason as the JSON
``message`` devpi-client shows. Every check is counted in the plugin's metrics.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Final

from pyramid.httpexceptions import HTTPForbidden

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_foundry_common.metrics import Metrics
    from devpi_policy.core.evaluate import Decision

log = logging.getLogger(__name__)
_MAX_REASON: Final = 900
#: Registry keys of this server's metrics and policy cache, looked up once in includeme:
#: every download uses both, and devpi's singleton lookup takes a lock all threads share.
METRICS: Final = "devpi_policy.metrics"
POLICIES: Final = "devpi_policy.policies"


class PolicyRefused(HTTPForbidden):  # type: ignore[misc]  # pyramid ships no type hints
    """403 whose reason phrase (status line) is the policy's reason."""

    def __init__(self, message: str, *, as_json: bool) -> None:
        self.title = _reason_phrase(message)
        if as_json:
            body = json.dumps({"type": "policy", "message": message}).encode()
            super().__init__(body=body, content_type="application/json")
        else:
            super().__init__(detail=message)


def _reason_phrase(message: str) -> str:
    """One latin-1 line for the HTTP status line: user-controlled names cannot inject."""
    text = " ".join(message.split())
    text = text.encode("latin-1", "backslashreplace").decode("latin-1")
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


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
        log.warning("policy dry-run, %s let through: %s", what(), "; ".join(decision.dry_run))
    if decision.allowed:
        return
    counters.inc("denials_total")
    log.info("policy refused %s: %s", what(), decision.reason)
    message = f"policy: {decision.reason}"
    raise PolicyRefused(message, as_json=as_json)
