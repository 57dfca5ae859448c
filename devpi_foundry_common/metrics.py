"""Thread-safe counters and gauges reported through devpi's ``/+status`` metrics.

devpi-web renders ``/+status`` data on every page, so reading a metric must be O(1): values
are kept up to date by the code that changes them, never computed on request.
"""

from __future__ import annotations

import re
import threading
from typing import Final, Literal

MetricKind = Literal["counter", "gauge"]

_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*$")


class Metrics:
    """A fixed set of named counters and gauges, all starting at zero.

    >>> m = Metrics("devpi_demo", counters=["uploads_total"], gauges=["jobs"])
    >>> m.inc("uploads_total")
    >>> m.set("jobs", 3)
    >>> m.as_devpi_metrics()
    [('devpi_demo_uploads_total', 'counter', 1.0), ('devpi_demo_jobs', 'gauge', 3.0)]
    """

    def __init__(self, prefix: str, *, counters: list[str], gauges: list[str]) -> None:
        names = [*counters, *gauges]
        bad = [n for n in [prefix, *names] if not _NAME.match(n)]
        if bad:
            msg = f"invalid metric names {bad!r}: use lower-case letters, digits and underscores"
            raise ValueError(msg)
        self.prefix = prefix
        self._kinds: dict[str, MetricKind] = dict.fromkeys(counters, "counter")
        self._kinds.update(dict.fromkeys(gauges, "gauge"))
        self._values: dict[str, float] = dict.fromkeys(names, 0.0)
        self._lock = threading.Lock()

    def _check(self, name: str, kind: MetricKind) -> None:
        if self._kinds.get(name) != kind:
            msg = f"{self.prefix}: {name!r} is not a declared {kind}"
            raise KeyError(msg)

    def inc(self, name: str, amount: float = 1.0) -> None:
        """Add ``amount`` to a counter."""
        self._check(name, "counter")
        with self._lock:
            self._values[name] += amount

    def set(self, name: str, value: float) -> None:
        """Set a gauge to ``value``."""
        self._check(name, "gauge")
        with self._lock:
            self._values[name] = float(value)

    def get(self, name: str) -> float:
        """Current value of a counter or gauge."""
        return self._values[name]

    def as_devpi_metrics(self) -> list[tuple[str, str, float]]:
        """The ``(name, kind, value)`` triples ``devpiserver_metrics`` returns."""
        with self._lock:
            return [(f"{self.prefix}_{n}", self._kinds[n], v) for n, v in self._values.items()]
