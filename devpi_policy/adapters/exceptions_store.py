"""Break-glass exceptions of an index, stored in a keyfs key of that index.

keyfs replicates them to replicas with devpi's own replication, and a change of them is a
new serial, so every memo keyed by serial sees it at once. Exceptions are never deleted
while their index exists: a revoked one keeps who revoked it and when.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from devpi_policy.core.exceptions import (
    AgeException,
    from_stored,
    parse_exception_spec,
    to_stored,
)

if TYPE_CHECKING:
    from datetime import datetime

KEY: Final = "POLICYAGEEXCEPTIONS"


@lru_cache(maxsize=8)  # one xom per process (tests: a few)
def _memo_of(xom: Any) -> dict[str, Any]:  # noqa: ARG001 - xom is the cache key
    return {"serial": -1, "found": {}}


def register_key(keyfs: Any) -> None:
    """Declare the key (idempotent; see upstream_times.register_keys)."""
    if keyfs.get_key(KEY) is None:
        keyfs.add_key(KEY, "{user}/{index}/.policy_exceptions", dict)


def _key(xom: Any, index: str) -> Any:
    register_key(xom.keyfs)
    user, name = index.split("/", 1)
    return xom.keyfs.get_key(KEY)(user=user, index=name)


def load(xom: Any, index: str) -> tuple[AgeException, ...]:
    """Every exception recorded on ``index`` (memoised per keyfs serial)."""
    tx = xom.keyfs.tx
    serial = getattr(tx, "at_serial", None)
    cacheable = serial is not None and not getattr(tx, "write", True)
    _memo = _memo_of(xom)
    if cacheable:
        if _memo["serial"] != serial:
            _memo.update(serial=serial, found={})
        if index in _memo["found"]:
            found: tuple[AgeException, ...] = _memo["found"][index]
            return found
    value = _key(xom, index).get()
    found = tuple(from_stored(dict(item)) for item in (value or {}).get("items", ()))
    if cacheable:
        _memo["found"][index] = found
    return found


def add(  # noqa: PLR0913 - keyword-only fields of the record
    xom: Any, index: str, *, spec: str, reason: str, until: datetime, who: str, now: datetime
) -> AgeException:
    """Record an exception (inside the request's write transaction)."""
    key = _key(xom, index)
    value = dict(key.get() or {})
    items = list(value.get("items", ()))
    new = AgeException(
        id=int(value.get("next", 1)),
        spec=parse_exception_spec(spec),
        reason=reason.strip(),
        until=until,
        created_by=who,
        created_at=now,
    )
    key.set({"next": new.id + 1, "items": [*items, to_stored(new)]})
    return new


def revoke(xom: Any, index: str, number: int, *, who: str, now: datetime) -> AgeException | None:
    """Mark exception ``number`` revoked; ``None`` when there is none (or it is already)."""
    key = _key(xom, index)
    value = dict(key.get() or {})
    items = [from_stored(dict(item)) for item in value.get("items", ())]
    found = next((e for e in items if e.id == number and e.revoked_by is None), None)
    if found is None:
        return None
    revoked = replace(found, revoked_by=who, revoked_at=now)
    stored = [to_stored(revoked if e.id == number else e) for e in items]
    key.set({**value, "items": stored})
    return revoked


def forget_index(xom: Any, index: str) -> None:
    """Delete the exceptions of ``index`` (inside the write transaction deleting it)."""
    key = _key(xom, index)
    if key.exists():
        key.delete()
