"""Plugin work on index creation and modification, only once devpi has authorised it.

devpi checks ``index_create`` inside its PUT view and ``index_modify`` in the view
pipeline, both after Pyramid's ``ContextFound`` event. Plugin work done at that event (a
stored option default, a 400 about an option, a started service) therefore ran for
anonymous requests and for users without permission, and devpi committed the write even
though it answered 403. Each plugin instead wraps devpi's index PUT/PATCH views through a
Pyramid view deriver (placed after the permission check) with :func:`wrap_index_write`:

* the plugin's ``before`` step runs only for a request the user may make; a write it does
  is rolled back (the transaction doomed) when the request ends with an error status;
* its ``after`` step runs only when devpi answered with success.

Nothing here imports devpi or pyramid: requests, views and responses are duck-typed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from devpi_foundry_common.indexconfig import INDEX_ROUTES

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

#: devpi's permission for each method that writes an index configuration.
INDEX_WRITE_PERMISSIONS: Final = {"PUT": "index_create", "PATCH": "index_modify"}
_ERROR: Final = 400


def is_index_write_view(options: Mapping[str, Any]) -> bool:
    """Whether a view, by its Pyramid view options, is devpi's index PUT or PATCH view.

    >>> is_index_write_view({"route_name": "/{user}/{index}", "request_method": "PATCH"})
    True
    >>> is_index_write_view({"route_name": "/{user}/{index}/", "request_method": ("POST",)})
    False
    """
    if options.get("route_name") not in INDEX_ROUTES:
        return False
    methods = options.get("request_method")
    if isinstance(methods, str):
        methods = (methods,)
    return any(method in INDEX_WRITE_PERMISSIONS for method in methods or ())


def authorised(request: Any) -> bool:
    """Whether devpi lets this request's user write the index configuration it names."""
    permission = INDEX_WRITE_PERMISSIONS.get(request.method)
    return permission is not None and bool(request.has_permission(permission))


def _status(outcome: Any) -> int:
    status = getattr(outcome, "status_code", None)
    return status if isinstance(status, int) else 500


def _doom(request: Any) -> None:
    request.registry["xom"].keyfs.tx.doom()


def wrap_index_write(
    view: Callable[[Any, Any], Any],
    *,
    before: Callable[[Any], bool],
    after: Callable[[Any], None] | None = None,
) -> Callable[[Any, Any], Any]:
    """``view`` (devpi's index PUT/PATCH view) with a plugin's work around it.

    ``before(request)`` runs for authorised requests only and returns whether it wrote
    anything (then an error answer rolls the whole transaction back); it may raise an
    HTTP error itself. ``after(request)`` runs when devpi's answer is a success.
    """

    def index_write_view(context: Any, request: Any) -> Any:
        if not authorised(request):
            return view(context, request)  # devpi answers 401/403 itself
        wrote = before(request)
        try:
            outcome = view(context, request)
        except BaseException as exc:  # devpi answers (success too) by raising; re-raised
            _finish(request, exc, wrote=wrote, after=after)
            raise
        _finish(request, outcome, wrote=wrote, after=after)
        return outcome

    return index_write_view


def _finish(
    request: Any, outcome: Any, *, wrote: bool, after: Callable[[Any], None] | None
) -> None:
    if _status(outcome) >= _ERROR:
        if wrote:
            _doom(request)
    elif after is not None:
        after(request)
