"""Which indexes a change of a user's record created or removed.

devpi-server 6.20 has no hook for a deleted index or user (its hookspecs have
``devpiserver_stage_created`` only). Both deletions are changes of keyfs's ``USER`` key:
deleting an index drops it from the user's ``indexes``; deleting a user deletes the key,
with every index in it, in one transaction. devpi's own ``EventSubscribers.on_userchange``
compares the key's value before and after each change in the notifier thread (after the
commit, in serial order, on every node, caught up after a restart); each plugin's
``adapters`` subscribe the same way and forget what they hold about an index that went
away (and, for a cache that a late writer may fill for a deleted index, that is new).
This module is the pure part: the comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


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
