"""Helpers for plugin-owned index options.

The plugins declare their options as stage-customizer keys (through the customizer mixins
they put in front of every index type), not through ``devpiserver_indexconfig_defaults``:
devpi writes every default of that hook into the index on each creation *and* each
modification, and devpi deep-copies (and sizes) a user's whole record, every index
configuration in it, on each request touching one of its indexes. Storing only the
options a user set keeps that cost at plain devpi's level; an option that is not stored
takes its default wherever it is read.

devpi's ``key+=value`` and ``key-=value`` operations read the stored value and fail with a
server error on a missing key, so :func:`upgrade_index_options` stores the default of each
option such an operation names, just before devpi applies it.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


def normalize_option(default: object, value: object) -> object:
    """``value`` as stored for an option whose default is ``default``: lists from a list or
    a comma-separated string (empty parts dropped, as devpi does), strings as given.

    >>> normalize_option([], "evil-*, acme.*,")
    ['evil-*', 'acme.*']
    >>> normalize_option("enforce", "dry-run")
    'dry-run'
    >>> normalize_option([], 3)
    Traceback (most recent call last):
    ...
    ValueError: not a list or comma-separated string: 3
    """
    if isinstance(default, list):
        if isinstance(value, (list, tuple)):
            return [str(item) for item in value]
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        msg = f"not a list or comma-separated string: {value!r}"
        raise ValueError(msg)
    if isinstance(value, str):
        return value
    msg = f"not a string: {value!r}"
    raise ValueError(msg)


def normalized(customizer: Any, defaults: Mapping[str, object], key: str, value: object) -> object:
    """:func:`normalize_option` for a customizer's ``normalize_indexconfig_value``; a bad
    value is devpi's ``InvalidIndexconfig`` (HTTP 400 naming the option)."""
    try:
        return normalize_option(defaults[key], value)
    except ValueError as exc:
        raise customizer.InvalidIndexconfig([f"{key}: {exc}"]) from exc


class DeclaredOptions:
    """Base of a customizer mixin that declares a plugin's index options::

        class PolicyOptionsMixin(DeclaredOptions, defaults=DEFAULTS): ...

    The subclass given ``defaults`` gets ``get_possible_indexconfig_keys`` and
    ``normalize_indexconfig_value`` for those options, each chaining to the next class in
    the MRO (several plugins' mixins stack in front of one customizer). Subclasses without
    ``defaults`` (the wrapped classes) add nothing.
    """

    def __init_subclass__(cls, *, defaults: Mapping[str, object] | None = None) -> None:
        super().__init_subclass__()
        if defaults is None:
            return
        options = dict(defaults)

        def get_possible_indexconfig_keys(self: Any) -> tuple[str, ...]:
            parent: Any = super(cls, self)
            return (*parent.get_possible_indexconfig_keys(), *options)

        def normalize_indexconfig_value(self: Any, key: str, value: Any) -> Any:
            if key in options:
                return normalized(self, options, key, value)
            parent: Any = super(cls, self)
            return parent.normalize_indexconfig_value(key, value)

        setattr(cls, "get_possible_indexconfig_keys", get_possible_indexconfig_keys)  # noqa: B010
        setattr(cls, "normalize_indexconfig_value", normalize_indexconfig_value)  # noqa: B010


#: devpi-server's routes for one index (``PATCH`` modifies it).
INDEX_ROUTES: Final = frozenset({"/{user}/{index}", "/{user}/{index}/"})


def edited_missing(
    operations: object, stored: Mapping[str, object], defaults: Mapping[str, object]
) -> dict[str, object]:
    """The options among ``defaults`` that the PATCH ``operations`` add to or remove from
    (``key+=value``, ``key-=value``) and ``stored`` lacks, with fresh copies of their
    defaults.

    >>> edited_missing(["policy_exclude+=evil-*", "policy_mode=dry-run"], {},
    ...                {"policy_exclude": [], "policy_mode": "enforce"})
    {'policy_exclude': []}
    >>> edited_missing(["policy_exclude-=x"], {"policy_exclude": ["x"]}, {"policy_exclude": []})
    {}
    """
    if not isinstance(operations, list):
        return {}
    found = {}
    for item in operations:
        if not isinstance(item, str):
            continue
        target = item.partition("=")[0]
        key = target[:-1]
        if target.endswith(("+", "-")) and key in defaults and key not in stored:
            found[key] = copy.deepcopy(defaults[key])
    return found


def upgrade_index_options(request: Any, defaults: Mapping[str, object]) -> list[str]:
    """Store the default of each option in ``defaults`` that a ``PATCH`` of an index edits
    with ``+=``/``-=`` while the index has no value for it.

    Called through :func:`devpi_foundry_common.index_writes.wrap_index_write`, inside
    devpi's write transaction, after devpi's permission check and before its view.
    ``request`` is devpi-server's request (duck-typed, this package imports no devpi).
    Returns the option names it stored.
    """
    route = request.matched_route
    if route is None or route.name not in INDEX_ROUTES or request.method != "PATCH":
        return []
    stage = getattr(request.context, "stage", None)
    if stage is None:
        return []
    stored = stage.get()
    if not stored:
        return []
    try:
        operations = json.loads(request.body or b"null")
    except ValueError:
        return []  # devpi answers malformed bodies itself
    missing = edited_missing(operations, stored, defaults)
    if missing:
        with stage.user.key.update() as userconfig:
            userconfig["indexes"][stage.index].update(missing)
    return sorted(missing)


def operation_options(operations: list[Any]) -> dict[str, Any]:
    """The values devpi's PATCH operations set or add (``devpi index`` sends these).

    >>> operation_options(["license_deny+=AGPL-*", "policy_mode=dry-run", "x-=y", 3])
    {'license_deny': ['AGPL-*'], 'policy_mode': 'dry-run'}
    """
    found: dict[str, Any] = {}
    for item in operations:
        if not isinstance(item, str):
            continue
        target, _, value = item.partition("=")
        if target.endswith("+"):
            found.setdefault(target[:-1], []).append(value)
        elif not target.endswith("-"):
            found[target] = value
    return found


def requested_index_options(request: Any) -> dict[str, Any] | None:
    """The options a PUT/PATCH of an index sets or adds to (a PATCH as a document or as
    ``key=value``/``key+=value`` operations), or ``None`` for other requests."""
    route = getattr(request, "matched_route", None)
    if route is None or route.name not in INDEX_ROUTES or request.method not in ("PUT", "PATCH"):
        return None
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None  # devpi answers malformed bodies itself
    if isinstance(body, list):
        return operation_options(body)
    return body if isinstance(body, dict) else None


def unenforced_options(
    options: Mapping[str, Any], defaults: Mapping[str, object], needs: Iterable[str]
) -> list[str]:
    """Options among ``needs`` that ``options`` sets to something other than the default.

    >>> unenforced_options({"a": ["x"], "b": "allow"}, {"a": [], "b": "allow"}, ["a", "b"])
    ['a']
    """
    found = []
    for key in needs:
        value = options.get(key, defaults[key])
        if value not in (None, "", [], (), defaults[key]):
            found.append(key)
    return found
