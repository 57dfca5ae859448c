"""One log line per failure of background work, with its cause, and a count of them.

Worker threads, notifier callbacks and other work no request waits for must never fail
silently, and must not fill the server log with a traceback per event either: each
failure is one ERROR line naming what failed and why (the exception and its causes), the
traceback goes to DEBUG (``devpi-server --debug`` shows it), and the plugin's
``failures_total`` counter in ``/+status`` counts it (with a more specific counter, if any).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

    from devpi_foundry_common.metrics import Metrics

#: the longest cause a log line carries (a remote error page must not flood the log)
MAX_CAUSE_CHARS = 500


def cause(exc: BaseException) -> str:
    """An exception and its causes on one line.

    >>> try:
    ...     try:
    ...         {}["a"]
    ...     except KeyError as e:
    ...         raise RuntimeError("lookup\\nfailed") from e
    ... except RuntimeError as e:
    ...     cause(e)
    "RuntimeError: lookup failed (from KeyError: 'a')"
    """
    parts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = " ".join(str(current).split())
        parts.append(f"{type(current).__name__}: {text}" if text else type(current).__name__)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    line = " (from ".join(parts) + ")" * (len(parts) - 1)
    if len(line) > MAX_CAUSE_CHARS:
        line = line[: MAX_CAUSE_CHARS - 3] + "..."
    return line


#: the counter every plugin declares for :func:`log_failure`
FAILURES_TOTAL = "failures_total"


def log_failure(
    log: logging.Logger,
    exc: BaseException,
    what: str,
    metrics: Metrics | None = None,
    counter: str = "",
) -> None:
    """Log ``what`` failed, and why, as one ERROR line; count it in the ``failures_total``
    of ``metrics`` and in ``counter`` (if given)."""
    log.error("%s: %s", what, cause(exc))
    log.debug("the traceback of that failure", exc_info=exc)
    if metrics is not None:
        metrics.inc(FAILURES_TOTAL)
        if counter:
            metrics.inc(counter)
