"""A failure of background work is one ERROR line with its cause, counted; its traceback
only at DEBUG level."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from devpi_foundry_common.failures import MAX_CAUSE_CHARS, cause, log_failure
from devpi_foundry_common.metrics import Metrics

if TYPE_CHECKING:
    import pytest

LOG = logging.getLogger("test.failures")


def boom() -> None:
    try:
        _ = {}["key"]
    except KeyError as exc:
        msg = "lookup outside any transaction"
        raise RuntimeError(msg) from exc


def test_one_error_line_with_the_cause_and_the_traceback_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics("devpi_demo", counters=["failures_total", "worker_errors_total"], gauges=[])
    caplog.set_level(logging.DEBUG, logger="test.failures")
    try:
        boom()
    except RuntimeError as exc:
        log_failure(LOG, exc, "could not queue builds for x-1.0.tar.gz", metrics,
                    "worker_errors_total")  # fmt: skip
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        (
            "could not queue builds for x-1.0.tar.gz: RuntimeError: lookup outside any "
            "transaction (from KeyError: 'key')"
        )
    ]
    assert errors[0].exc_info is None  # no traceback per event
    (debug,) = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug.exc_info is not None
    assert metrics.get("failures_total") == 1
    assert metrics.get("worker_errors_total") == 1


def test_a_long_cause_is_cut() -> None:
    assert len(cause(ValueError("x" * 10_000))) == MAX_CAUSE_CHARS
    assert cause(ValueError()) == "ValueError"
