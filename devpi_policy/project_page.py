"""devpi-web's page of a project the rules refuse: why, instead of "does not exist".

devpi-web answers a project the rules refuse as a whole with its 404 page "... does not
exist", and one whose every version they hide with an empty page. When an index of the
inheritance path does hold the project, this view wrapper answers 403 with the rules'
reasons instead, in the page the user is looking at; a project nobody holds stays 404.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from pyramid.response import Response

from devpi_policy.adapters import audit
from devpi_policy.adapters.checkapi import check_spec
from devpi_policy.adapters.serving import ServingView
from devpi_policy.errors import InvalidSpecError
from devpi_policy.refusals import REQUEST_ID_HEADER

if TYPE_CHECKING:
    from collections.abc import Callable

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{project}: refused on {index}</title></head>
<body><h1>{project} is refused on {index}</h1>
<p>The index's rules refuse {what}:</p><ul>{reasons}</ul>
<p><code>devpi policy check {project} --index {index}</code> says the same.</p>
<p>request {request_id}</p>
</body></html>
"""


def project_page_view(view: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """devpi-web's project page, 403 with the reasons for a project the rules hide."""

    def policy_project_page_view(context: Any, request: Any) -> Any:
        if _hidden(context, request):  # devpi-web would say "does not exist" or list nothing
            refused = _refusal(context, request)
            if refused is not None:
                return refused
        return view(context, request)

    return policy_project_page_view


def _hidden(context: Any, request: Any) -> bool:
    """Whether the rules leave nothing of the project to show (its versions as devpi lists
    them are filtered by the rules already)."""
    stage: Any = getattr(context, "stage", None)
    serving = ServingView.of(stage) if stage is not None else None
    project = str(request.matchdict.get("project", ""))
    if stage is None or serving is None or not project:
        return False
    if not serving.project_allowed(project):
        return True
    try:
        return not stage.list_versions(project)
    except Exception:  # noqa: BLE001 - devpi's own error (a mirror's upstream): its page says
        return False


def _refusal(context: Any, request: Any) -> Response | None:
    stage = getattr(context, "stage", None)
    project = str(request.matchdict.get("project", ""))
    if stage is None or ServingView.of(stage) is None or not project:
        return None
    try:
        result = check_spec(stage, project)
    except InvalidSpecError:
        return None
    if not result.get("exists"):
        return None  # nobody on the path holds it: devpi-web's 404 is the truth
    reasons = list(result.get("reasons") or [])
    what = "the project"
    if result.get("allowed", True):  # the project passes, but every version is hidden
        hidden = result.get("hidden") or []
        reasons = [f"{h['version']}: {r}" for h in hidden for r in h.get("reasons", [])]
        what = "every version of it"
    if not reasons:
        return None
    rid = audit.record(request, reasons, "enforce")
    body = PAGE.format(project=escape(project), index=escape(stage.name), what=what,
                       reasons="".join(f"<li>{escape(r)}</li>" for r in reasons),
                       request_id=rid)  # fmt: skip
    response = Response(body, status=403, content_type="text/html", charset="utf-8")
    response.headers[REQUEST_ID_HEADER] = rid
    return response
