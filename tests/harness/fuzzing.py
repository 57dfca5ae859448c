"""Hypothesis profiles and the memory and time bound every fuzzed reader must keep.

Two profiles: ``ci`` (the unit tier: derandomized, so every run tries the same examples,
and a small budget) and ``fuzz`` (``tox -e fuzz``: random, 100,000 examples per reader,
failures kept in ``.hypothesis/`` and replayed first next time). ``FOUNDRY_FUZZ_PROFILE``
chooses; ``FOUNDRY_FUZZ_EXAMPLES`` overrides the budget of either.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import tracemalloc
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

if TYPE_CHECKING:
    from collections.abc import Callable

MiB: Final = 1024 * 1024
#: wall-clock seconds one reader call may take on these small inputs (a shared 2-core
#: machine under tracemalloc): pathological parsing takes minutes, not seconds
SECONDS: Final = 5.0
_SLOW: Final = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                HealthCheck.filter_too_much]  # fmt: skip


_COUNTS: Counter[str] = Counter()
_STARTED = time.monotonic()
#: where a long run writes its progress (examples per test, seconds) every 1000 examples
PROGRESS: Final = Path(".hypothesis") / "fuzz-progress.json"
#: one run's pytest-xdist workers share this id (and so one progress file)
_RUN: Final = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


def count(test: str) -> None:
    """Count one example of ``test``; under the ``fuzz`` profile, write the counts to
    :data:`PROGRESS` every 1000 examples (a run stopped early still says how far it got)."""
    _COUNTS[test] += 1
    if _COUNTS[test] % 1000 == 0 and settings().max_examples > 1000:
        _write_progress()


def _write_progress() -> None:
    """Merge this process's counts into :data:`PROGRESS`, under a lock: pytest-xdist workers
    each run some of the tests and write the same file (one of an earlier run is replaced)."""
    PROGRESS.parent.mkdir(exist_ok=True)
    with PROGRESS.with_suffix(".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            found = json.loads(PROGRESS.read_text())
        except (OSError, ValueError):
            found = {}
        if not isinstance(found, dict) or found.get("run") != _RUN:
            found = {"run": _RUN, "examples": {}, "seconds": 0}
        found["examples"].update(_COUNTS)
        found["seconds"] = max(found["seconds"], round(time.monotonic() - _STARTED))
        partial = PROGRESS.with_suffix(".part")
        partial.write_text(json.dumps(found, indent=1))
        partial.replace(PROGRESS)


def register_profiles() -> None:
    examples = os.environ.get("FOUNDRY_FUZZ_EXAMPLES")
    settings.register_profile(
        "ci", derandomize=True, database=None, deadline=None, print_blob=True,
        max_examples=int(examples or 40), suppress_health_check=_SLOW,
    )  # fmt: skip
    settings.register_profile(
        "fuzz", derandomize=False, deadline=None, print_blob=True,
        database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
        max_examples=int(examples or 100_000), suppress_health_check=_SLOW,
    )  # fmt: skip
    settings.load_profile(os.environ.get("FOUNDRY_FUZZ_PROFILE", "ci"))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one reader call returned or raised, its peak traced memory and its time."""

    value: object
    error: BaseException | None
    peak: int
    seconds: float


def bounded(call: Callable[[], object]) -> Outcome:
    """Run ``call`` under tracemalloc; any exception is caught and returned, not raised.
    A call over :data:`SECONDS` runs once more and keeps the faster time: pathological
    input is slow every time, a busy shared machine only now and then (``tox -e fuzz``
    once saw a 5 s pause at 59,000 examples that the replay did not repeat)."""
    first = _measure(call)
    if first.seconds <= SECONDS:
        return first
    again = _measure(call)
    return again if again.seconds < first.seconds else first


def _measure(call: Callable[[], object]) -> Outcome:
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    value: object = None
    error: BaseException | None = None
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001 - the caller judges which exceptions are allowed
        error = exc
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return Outcome(value, error, peak, seconds)


def check_bounds(outcome: Outcome, *, memory: int, what: str) -> None:
    """Fail when the call went over ``memory`` bytes of traced peak or :data:`SECONDS`."""
    assert outcome.peak <= memory, f"{what}: peak {outcome.peak / MiB:.1f} MiB > {memory / MiB:.1f}"
    assert outcome.seconds <= SECONDS, f"{what}: {outcome.seconds:.1f} s"
