"""devpi_foundry_common.gcfreeze: the start-up heap frozen once per process, or not at all."""

from __future__ import annotations

import logging

import pytest

from devpi_foundry_common import gcfreeze


class FakeGc:
    """Records the calls; ``gc.freeze`` in the test process itself would keep its objects."""

    def __init__(self, already: int = 0) -> None:
        self.calls: list[str] = []
        self.frozen = already

    def collect(self) -> int:
        self.calls.append("collect")
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen = 1234

    def get_freeze_count(self) -> int:
        return self.frozen


@pytest.fixture
def fake_gc(monkeypatch: pytest.MonkeyPatch) -> FakeGc:
    fake = FakeGc()
    monkeypatch.setattr(gcfreeze, "gc", fake)
    monkeypatch.setattr(gcfreeze, "_DONE", [False])
    monkeypatch.delenv(gcfreeze.ENV, raising=False)
    return fake


def test_first_call_collects_then_freezes_and_logs(
    fake_gc: FakeGc, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=gcfreeze.__name__):
        assert gcfreeze.freeze_startup_heap(object()) == 1234  # pyramid passes its event
    assert fake_gc.calls == ["collect", "freeze"]
    assert "moved 1234 start-up objects" in caplog.text


def test_later_calls_do_nothing(fake_gc: FakeGc) -> None:
    gcfreeze.freeze_startup_heap()
    assert gcfreeze.freeze_startup_heap() == 0
    assert gcfreeze.freeze_startup_heap() == 0
    assert fake_gc.calls == ["collect", "freeze"]


def test_turned_off_by_the_environment(
    fake_gc: FakeGc, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(gcfreeze.ENV, "0")
    with caplog.at_level(logging.INFO, logger=gcfreeze.__name__):
        assert gcfreeze.freeze_startup_heap() == 0
    assert fake_gc.calls == []
    assert "DEVPI_FOUNDRY_GC_FREEZE=0" in caplog.text


def test_a_heap_frozen_by_someone_else_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeGc(already=99)
    monkeypatch.setattr(gcfreeze, "gc", fake)
    monkeypatch.setattr(gcfreeze, "_DONE", [False])
    monkeypatch.delenv(gcfreeze.ENV, raising=False)
    assert gcfreeze.freeze_startup_heap() == 0
    assert fake.calls == []
