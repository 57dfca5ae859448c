"""Facts about a subject that plugins contribute, fetched lazily and at most once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping


class Facts:
    """Read-only facts about one subject; the provider runs on first access only.

    >>> calls = []
    >>> facts = Facts(lambda: calls.append(1) or [{"license": "MIT"}, {"license": "BSD"}])
    >>> facts.get("license"), facts.get("missing", "?"), len(calls)
    ('MIT', '?', 1)
    """

    __slots__ = ("_provider", "_values")

    def __init__(self, provider: Callable[[], Iterable[Mapping[str, Any] | None]]) -> None:
        self._provider = provider
        self._values: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._values is None:
            merged: dict[str, Any] = {}
            for contribution in self._provider():
                for key, value in (contribution or {}).items():
                    merged.setdefault(key, value)
            self._values = merged
        return self._values

    def get(self, name: str, default: Any = None) -> Any:
        """The fact ``name``, or ``default`` when no plugin knows it."""
        return self._load().get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._load()
