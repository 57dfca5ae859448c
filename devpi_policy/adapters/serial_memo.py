"""Memos valid for one keyfs serial: what a read transaction at that serial computed.

Stored data (upload times, exceptions, a page's files) changes only with a new serial, so
a read transaction may reuse what another computed at the same serial. Write transactions
get no memo (what they read may change before they commit). The memo is replaced as one
``(serial, table)`` pair, so concurrent readers see a whole pair; its size is the caller's
to bound.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class SerialMemo(Generic[K, V]):
    """A table for the serial of the current read transaction."""

    def __init__(self) -> None:
        self.state: tuple[int, dict[K, V]] = (-1, {})

    def table(self, xom: Any) -> dict[K, V] | None:
        """The table of the current transaction's serial (``None``: not a read one)."""
        tx = xom.keyfs.tx
        serial = getattr(tx, "at_serial", None)
        if serial is None or getattr(tx, "write", True):
            return None
        state = self.state
        if state[0] != serial:
            state = (serial, {})
            self.state = state  # one assignment: readers see a whole pair
        return state[1]
