"""devpi_policy.adapters.serial_memo: tables per read serial, and one computation per miss."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from devpi_policy.adapters import serial_memo
from devpi_policy.adapters.serial_memo import SerialMemo


def xom_at(serial: int, *, write: bool = False) -> SimpleNamespace:
    return SimpleNamespace(keyfs=SimpleNamespace(tx=SimpleNamespace(at_serial=serial, write=write)))


def test_a_table_per_serial_and_none_for_writes() -> None:
    memo: SerialMemo[str, int] = SerialMemo()
    table = memo.table(xom_at(5))
    assert table is not None
    table["a"] = 1
    assert memo.table(xom_at(5)) == {"a": 1}
    assert memo.table(xom_at(6)) == {}
    assert memo.table(xom_at(6, write=True)) is None


def test_concurrent_misses_compute_once() -> None:
    memo: SerialMemo[str, int] = SerialMemo()
    computed: list[int] = []
    start = threading.Barrier(8)

    def serve() -> None:
        table = memo.table(xom_at(1))
        assert table is not None
        start.wait()
        if "page" in table:
            return
        with memo.lock("page"):
            if "page" not in table:
                time.sleep(0.05)  # the computation: long enough for all to miss
                computed.append(1)
                table["page"] = 1

    threads = [threading.Thread(target=serve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert computed == [1]


def test_locks_are_per_key_and_bounded() -> None:
    memo: SerialMemo[int, int] = SerialMemo()
    assert memo.lock(1) is memo.lock(1)
    assert memo.lock(1) is not memo.lock(2)
    first = memo.lock(0)
    for key in range(serial_memo.LOCKS_MAX + 10):
        memo.lock(key)
    assert memo.lock(0) is not first  # the locks started over: memory stays bounded
