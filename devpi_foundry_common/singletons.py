"""Per-server objects of a plugin, kept on devpi-server's ``xom`` (duck-typed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


def per_server(xom: Any, plugin: str, key: str, factory: Callable[[], T]) -> T:
    """The object ``key`` of ``plugin`` for this devpi-server, made by ``factory`` once.

    Uses ``xom.setdefault_singleton`` under a ``+``-prefixed path that can never be an
    index name, so devpi's per-index singleton cleanup never drops it.
    """
    found: T = xom.setdefault_singleton(f"+{plugin}", key, factory=factory)
    return found
