"""Which indexes a change of a user's record created or removed.

devpi-server 6.20 has no hook for a deleted index or user (its hookspecs have
``devpiserver_stage_created`` only). Both deletions are changes of keyfs's ``USER`` key:
deleting an index drops it from the user's ``indexes``; deleting a user deletes the key,
with every index in it, in one transaction. devpi's own ``EventSubscribers.on_userchange``
compares the key's value before and after each change in the notifier thread (after the
commit, in serial order, on every node, caught up after a restart).
:func:`follow_index_changes` subscribes the same way (duck-typed, no devpi import) and
calls a plugin's ``forget(index)`` for an index that went away (and, for a cache that a
late writer may fill for a deleted index, that is new). Each plugin calls it from its
``adapters`` with its own ``forget_index``, which every store of the plugin about an
index joins.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


def _indexes(userconfig: Mapping[str, Any] | None) -> set[str]:
    return set((userconfig or {}).get("indexes") or {})


def removed_indexes(
    user: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[str]:
    """``user/index`` of each index that ``old`` had and ``new`` (``None``: the user was
    deleted) has not, sorted.

    >>> removed_indexes("alice", {"indexes": {"dev": {}}}, {"indexes": {"dev": {}, "x": {}}})
    []
    >>> removed_indexes("alice", {"indexes": {"dev": {}, "prod": {}}}, None)
    ['alice/dev', 'alice/prod']
    """
    return [f"{user}/{name}" for name in sorted(_indexes(old) - _indexes(new))]


def changed_indexes(
    user: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[str]:
    """``user/index`` of each index that ``new`` (``None``: the user was deleted) has
    and ``old`` had not, or the other way round, sorted.

    >>> changed_indexes("alice", {"indexes": {"dev": {}, "prod": {}}}, {"indexes": {"dev": {}}})
    ['alice/prod']
    >>> changed_indexes("alice", {"indexes": {"dev": {}}}, None)
    ['alice/dev']
    >>> changed_indexes("alice", {"indexes": {"dev": {}}}, {"indexes": {"dev": {"x": 1}}})
    []
    """
    return [f"{user}/{name}" for name in sorted(_indexes(old) ^ _indexes(new))]


def follow_index_changes(
    xom: Any,
    forget: Callable[[str], None],
    *,
    plugin: str,
    new_indexes: bool = False,
    failed: Callable[[], None] | None = None,
) -> None:
    """Call ``forget(index)`` for every index deleted, alone or with its user (and, with
    ``new_indexes``, every index created), in devpi's notifier thread after the commit.

    Call it from ``devpiserver_pyramid_configure`` (before devpi starts its threads). It
    uses devpi-server's ``xom`` duck-typed (no devpi import): a keyfs subscription to the
    ``USER`` key, the old value read at the event's back serial as devpi's own
    ``EventSubscribers.on_userchange`` does. An exception in ``forget`` is logged with its
    cause, counted by ``failed``, and does not stop the other indexes or later events."""
    follower = _Follower(xom, forget, plugin, new_indexes=new_indexes, failed=failed)
    xom.keyfs.notifier.on_key_change("USER", follower.on_user_change)


@dataclass(frozen=True, slots=True)
class _Follower:
    xom: Any
    forget: Callable[[str], None]
    plugin: str
    new_indexes: bool
    failed: Callable[[], None] | None

    def on_user_change(self, event: Any) -> None:
        for index in self._changed(event):
            try:
                self.forget(index)
            except Exception:  # a notifier callback must not raise; the next index still goes
                log.exception("%s: could not forget index %s", self.plugin, index)
                self._count_failure()

    def _changed(self, event: Any) -> list[str]:
        try:
            with self.xom.keyfs.read_transaction(at_serial=event.at_serial) as tx:
                old = None
                if event.back_serial > -1:
                    with contextlib.suppress(KeyError):  # the user was deleted before
                        old = tx.get_value_at(event.typedkey, event.back_serial)
            user = event.typedkey.params["user"]
            compare = changed_indexes if self.new_indexes else removed_indexes
            return compare(user, old, event.value)
        except Exception:  # devpi would not retry the event: log it, count it
            log.exception("%s: could not read which indexes a user change removed", self.plugin)
            self._count_failure()
            return []

    def _count_failure(self) -> None:
        if self.failed is not None:
            self.failed()
