"""Memos valid for one keyfs serial: what a read transaction at that serial computed.

Stored data (upload times, exceptions, a page's files) changes only with a new serial, so
a read transaction may reuse what another computed at the same serial. Write transactions
get no memo (what they read may change before they commit). The memo is replaced as one
``(serial, table)`` pair, so concurrent readers see a whole pair; its size is the caller's
to bound.

:meth:`SerialMemo.lock` makes concurrent misses of one key compute it once: right after a
write, the eight clients of a benchmark asked for the same 300-file page at once, each
computed its upload times (0.2 s of CPU each, eight times over), and the page served at
0.75 of plain devpi's rate until the memo held it.
"""

from __future__ import annotations

import threading
from typing import Any, Final, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
#: locks kept per memo; past that many keys they start over (at worst one more computation)
LOCKS_MAX: Final = 4096


class SerialMemo(Generic[K, V]):
    """A table for the serial of the current read transaction."""

    def __init__(self) -> None:
        self.state: tuple[int, dict[K, V]] = (-1, {})
        self._locks: dict[K, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def lock(self, key: K) -> threading.Lock:
        """The lock of ``key``: who missed it computes it holding the lock, and looks in the
        table again once it has the lock (another may have computed it meanwhile)."""
        with self._locks_guard:
            found = self._locks.get(key)
            if found is None:
                if len(self._locks) >= LOCKS_MAX:
                    self._locks.clear()
                found = self._locks[key] = threading.Lock()
            return found

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
