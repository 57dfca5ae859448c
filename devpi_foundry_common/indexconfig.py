"""Helpers for plugin-owned index options.

devpi-server only adds a plugin's index options to an index when that index is created or
modified with the full configuration. Indexes created before the plugin was installed lack
them, and devpi's ``key+=value`` / ``key-=value`` operations then fail on the missing key.
The plugins backfill their defaults into such indexes with :func:`missing_defaults`.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


def missing_defaults(
    stored: Mapping[str, object], defaults: Mapping[str, object]
) -> dict[str, object]:
    """The plugin options absent from a stored index configuration, with their defaults.

    Each default is deep-copied, so callers may store and later mutate it.

    >>> missing_defaults({"type": "stage", "policy_mode": "dry-run"},
    ...                  {"policy_mode": "enforce", "policy_exclude": []})
    {'policy_exclude': []}
    """
    return {key: copy.deepcopy(value) for key, value in defaults.items() if key not in stored}


#: devpi-server's routes for one index (``PATCH`` modifies it).
INDEX_ROUTES: Final = frozenset({"/{user}/{index}", "/{user}/{index}/"})


def upgrade_index_options(request: Any, defaults: Mapping[str, object]) -> list[str]:
    """Store ``defaults`` missing from the index a ``PATCH`` request modifies.

    Called from a Pyramid ``ContextFound`` subscriber, i.e. inside devpi's write transaction
    and before its view, so ``devpi index user/idx key+=value`` works on indexes created
    before the plugin was installed. ``request`` is devpi-server's request (duck-typed, this
    package imports no devpi). Returns the option names it added.
    """
    route = request.matched_route
    if route is None or route.name not in INDEX_ROUTES or request.method != "PATCH":
        return []
    stage = getattr(request.context, "stage", None)
    if stage is None:
        return []
    stored = stage.get()
    missing = missing_defaults(stored, defaults) if stored else {}
    if missing:
        with stage.user.key.update() as userconfig:
            userconfig["indexes"][stage.index].update(missing)
    return sorted(missing)


class DefaultsGate:
    """Declares a plugin's option defaults only in processes that serve requests.

    devpi writes every default of ``devpiserver_indexconfig_defaults`` into each index it
    creates, also in ``devpi-import`` and ``devpi-init``. There the defaults would change
    imported data (an export made without the plugin would come back with the plugin's
    keys) and devpi's own import tests would see extra keys. devpi-server calls
    ``devpiserver_add_parser_options`` only when it builds the full server parser
    (``devpi-server``, ``devpi-gen-config``, its test fixtures), never in import/init, so
    the plugin opens the gate there. Options present in an export are kept by devpi-import
    either way (as unknown keys), and indexes without the keys get them on their first
    modification (:func:`upgrade_index_options`).
    """

    def __init__(self) -> None:
        self.serving = False

    def open(self) -> None:
        """Called from the plugin's ``devpiserver_add_parser_options``."""
        self.serving = True

    def defaults(self, defaults: Mapping[str, object]) -> dict[str, object]:
        """Fresh copies of ``defaults`` in a serving process, else nothing."""
        if not self.serving:
            return {}
        return {key: copy.deepcopy(value) for key, value in defaults.items()}


def requested_index_options(request: Any) -> dict[str, Any] | None:
    """The options a PUT/PATCH of an index asks for, or ``None`` for other requests."""
    route = getattr(request, "matched_route", None)
    if route is None or route.name not in INDEX_ROUTES or request.method not in ("PUT", "PATCH"):
        return None
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None  # devpi answers malformed bodies itself
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
