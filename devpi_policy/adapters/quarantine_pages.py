"""Which links of a listing the rules of an inheritance path allow, when the quarantine is
the only plugin rule on it: judged without pluggy, and memoised per page.

A page (a project's links through one index) is judged once per keyfs serial: each link by
the options of every index from the served one down to the index holding the file
(devpi_policy's own rules, then the quarantine's verdict, adapters/quarantine.py). The
answer is kept until the first moment one of its verdicts changes by time alone (a
quarantined file turning old enough, an exception running out), and while the upload
times it read still hold (upload_times.Validity): a release appears by itself the moment
it is old enough, whatever was memoised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from devpi_foundry_common.failures import log_failure
from devpi_policy.adapters import upload_times
from devpi_policy.adapters.devpi import metrics_for
from devpi_policy.adapters.quarantine import judge_file, now
from devpi_policy.adapters.serial_memo import SerialMemo
from devpi_policy.core.evaluate import cached_file_denials
from devpi_policy.core.links import link_basename, stored_in

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from devpi_policy.adapters.policy import IndexPolicy
    from devpi_policy.core.age import AgeRules
    from devpi_policy.core.rules import Rules

log = logging.getLogger(__name__)
#: (index, own rules, invalid options, mode, quarantine rules) per index of the path
PathKey = tuple[tuple[str, "Rules", bool, str, "AgeRules | None"], ...]


@dataclass(frozen=True, slots=True)
class _Page:
    hrefs: tuple[str, ...]
    flags: tuple[bool, ...] | None
    changes_at: datetime | None
    validity: upload_times.Validity

    def holds(self, hrefs: tuple[str, ...], moment: datetime) -> bool:
        return (
            (self.changes_at is None or moment < self.changes_at)
            and self.hrefs == hrefs
            and self.validity.holds()
        )


class _Pages(SerialMemo[tuple[PathKey, str], _Page]):
    """Judged pages of one keyfs serial, by inheritance path and project."""


_PAGES_MAX: Final = 4096


@lru_cache(maxsize=8)  # one xom per process (tests: a few)
def _pages_of(xom: Any) -> _Pages:  # noqa: ARG001 - xom is the cache key
    return _Pages()


def path_key(policies: Sequence[IndexPolicy]) -> PathKey:
    return tuple((p.index, p.rules, bool(p.problems), p.mode, p.quarantine) for p in policies)


def links_flags(
    xom: Any, policies: Sequence[IndexPolicy], project: str, hrefs: tuple[str, ...]
) -> tuple[bool, ...] | None:
    """Which of ``hrefs`` (a page's devpi hrefs) the path allows; ``None``: all of them."""
    path = path_key(policies)
    moment = now()
    memo = _pages_of(xom)
    table = memo.table(xom)
    found = None if table is None else table.get((path, project))
    if found is not None and found.holds(hrefs, moment):
        return found.flags
    if table is None:
        return _judged(xom, path, project, hrefs, moment).flags
    with memo.lock((path, project)):  # concurrent misses of the page: judged once
        found = table.get((path, project))
        if found is not None and found.holds(hrefs, moment):
            return found.flags
        page = _judged(xom, path, project, hrefs, moment)
        if (path, project) in table or len(table) < _PAGES_MAX:
            table[path, project] = page
    return page.flags


def _judged(
    xom: Any, path: PathKey, project: str, hrefs: tuple[str, ...], moment: datetime
) -> _Page:
    with upload_times.tracking() as validity:
        flags, changes_at = _judge_page(xom, path, project, hrefs, moment)
    return _Page(hrefs, flags, changes_at, validity)


def _judge_page(
    xom: Any, path: PathKey, project: str, hrefs: tuple[str, ...], moment: datetime
) -> tuple[tuple[bool, ...] | None, datetime | None]:
    positions = {entry[0]: i for i, entry in enumerate(path)}
    last = len(path) - 1
    flags = []
    changes: list[datetime] = []
    for href in hrefs:
        filename, holder = link_basename(href), stored_in(href)
        allowed = True
        for index, rules, invalid, mode, age in path[: positions.get(holder or "", last) + 1]:
            refused = invalid or bool(cached_file_denials(rules, filename))
            if not refused and age is not None:
                refused, changes_at = _age_refuses(xom, age, (holder, project, filename), moment)
                if changes_at is not None:
                    changes.append(changes_at)
            if refused and mode == "enforce":
                allowed = False
                break
            if refused:
                log.debug("dry-run: %s would refuse %s", index, filename)
        flags.append(allowed)
    return (None if all(flags) else tuple(flags)), min(changes, default=None)


def _age_refuses(
    xom: Any, rules: AgeRules, what: tuple[str | None, str, str], moment: datetime
) -> tuple[bool, datetime | None]:
    """Whether the quarantine refuses a file, and when that may change by time alone."""
    try:
        verdict = judge_file(xom, rules, what, moment)
    except Exception as exc:  # noqa: BLE001 - as a failing plugin: refused, with the failure logged
        what_failed = f"devpi_policy plugin failed in devpipolicy_check for {what[2]!r}"
        log_failure(log, exc, what_failed, metrics_for(xom))
        return True, moment  # asked again next time
    return bool(verdict.reasons), verdict.changes_at
