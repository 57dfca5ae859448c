"""Following index deletions through keyfs's USER key, with a fake of devpi's xom."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devpi_foundry_common.lifecycle import follow_index_changes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import pytest


@dataclass
class FakeKeyfs:
    """keyfs with one USER key's history: value by serial."""

    history: dict[int, dict[str, Any] | None]
    subscribers: dict[str, Callable[[Any], None]] = field(default_factory=dict)

    @property
    def notifier(self) -> FakeKeyfs:
        return self

    def on_key_change(self, key: str, callback: Callable[[Any], None]) -> None:
        self.subscribers[key] = callback

    @contextlib.contextmanager
    def read_transaction(self, at_serial: int) -> Iterator[FakeKeyfs]:
        yield self

    def get_value_at(self, typedkey: Any, serial: int) -> dict[str, Any] | None:
        if self.history.get(serial) is None:
            raise KeyError(serial)
        return self.history[serial]


@dataclass
class Event:
    value: dict[str, Any] | None
    at_serial: int
    back_serial: int
    typedkey: Any = field(default_factory=lambda: type("K", (), {"params": {"user": "alice"}}))


@dataclass
class FakeXom:
    keyfs: FakeKeyfs


def follow(
    history: dict[int, dict[str, Any] | None], *, new: bool = False, fail: str = ""
) -> tuple[FakeXom, list[str], list[int]]:
    xom = FakeXom(FakeKeyfs(history))
    forgotten: list[str] = []
    failures: list[int] = []

    def forget(index: str) -> None:
        if index == fail:
            msg = "store is gone"
            raise OSError(msg)
        forgotten.append(index)

    follow_index_changes(xom, forget, plugin="test", new_indexes=new,
                         failed=lambda: failures.append(1))  # fmt: skip
    return xom, forgotten, failures


TWO = {"indexes": {"dev": {}, "prod": {}}}


def test_a_deleted_index_and_a_deleted_user_are_forgotten() -> None:
    xom, forgotten, _ = follow({1: TWO})
    notify = xom.keyfs.subscribers["USER"]
    notify(Event({"indexes": {"dev": {}}}, at_serial=2, back_serial=1))
    assert forgotten == ["alice/prod"]
    notify(Event(None, at_serial=3, back_serial=1))  # the user, with both indexes
    assert forgotten == ["alice/prod", "alice/dev", "alice/prod"]


def test_new_indexes_only_when_asked() -> None:
    xom, forgotten, _ = follow({1: {"indexes": {}}})
    xom.keyfs.subscribers["USER"](Event(TWO, at_serial=2, back_serial=1))
    assert forgotten == []
    xom, forgotten, _ = follow({1: {"indexes": {}}}, new=True)
    xom.keyfs.subscribers["USER"](Event(TWO, at_serial=2, back_serial=1))
    assert forgotten == ["alice/dev", "alice/prod"]


def test_a_new_user_and_a_user_deleted_before_forget_nothing() -> None:
    xom, forgotten, failures = follow({1: None})
    xom.keyfs.subscribers["USER"](Event(TWO, at_serial=2, back_serial=-1))
    xom.keyfs.subscribers["USER"](Event(None, at_serial=3, back_serial=1))
    assert (forgotten, failures) == ([], [])


def test_a_failing_store_is_logged_counted_and_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    xom, forgotten, failures = follow({1: TWO}, fail="alice/dev")
    xom.keyfs.subscribers["USER"](Event(None, at_serial=2, back_serial=1))
    assert forgotten == ["alice/prod"]
    assert failures == [1]
    assert "test: could not forget index alice/dev" in caplog.text
    assert "store is gone" in caplog.text
