from __future__ import annotations

import threading

import pytest

from devpi_foundry_common.metrics import Metrics


def make() -> Metrics:
    return Metrics("devpi_demo", counters=["uploads_total"], gauges=["jobs_queued"])


def test_starts_at_zero_in_declaration_order() -> None:
    assert make().as_devpi_metrics() == [
        ("devpi_demo_uploads_total", "counter", 0.0),
        ("devpi_demo_jobs_queued", "gauge", 0.0),
    ]


def test_counter_adds_and_gauge_sets() -> None:
    m = make()
    m.inc("uploads_total")
    m.inc("uploads_total", 2)
    m.set("jobs_queued", 7)
    m.set("jobs_queued", 4)
    assert m.get("uploads_total") == 3.0
    assert m.get("jobs_queued") == 4.0


def test_rejects_setting_a_counter_or_incrementing_a_gauge() -> None:
    m = make()
    with pytest.raises(KeyError, match="not a declared gauge"):
        m.set("uploads_total", 1)
    with pytest.raises(KeyError, match="not a declared counter"):
        m.inc("jobs_queued")
    with pytest.raises(KeyError, match="not a declared counter"):
        m.inc("undeclared")


@pytest.mark.parametrize("bad", ["Upper", "1starts_with_digit", "has-dash", ""])
def test_rejects_invalid_names(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid metric names"):
        Metrics("devpi_demo", counters=[bad], gauges=[])


def test_concurrent_increments_are_not_lost() -> None:
    m = make()

    def work() -> None:
        for _ in range(10_000):
            m.inc("uploads_total")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert m.get("uploads_total") == 40_000
