"""Quarantine decisions: ``policy_min_age``/``policy_freeze`` of an index about a subject.

The options come from the index configuration, the upload time from upload_times.py and
the break-glass exceptions of that same index from exceptions_store.py. The answer depends
on the clock: devpi_policy treats these rules as plugin rules (asked per request, never
memoised with the option-only decisions), and the verdicts memoised here per keyfs serial
carry their expiry, which is what lets a release appear the moment it is old enough.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from devpi_policy.adapters import exceptions_store, upload_times
from devpi_policy.adapters.serial_memo import SerialMemo
from devpi_policy.config import DEFAULTS
from devpi_policy.core.age import AgeRules, AgeVerdict, judge_age, parse_age_rules
from devpi_policy.core.evaluate import split_filename
from devpi_policy.core.exceptions import excepted_until

if TYPE_CHECKING:
    from collections.abc import Mapping

    from devpi_policy.core.subject import Subject


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@lru_cache(maxsize=1024)
def _parse(index: str, min_age: str, freeze: str, unknown: str) -> tuple[AgeRules, list[str]]:
    return parse_age_rules(index, min_age=min_age, freeze=freeze, unknown=unknown)


def age_rules(index: str, options: Mapping[str, Any]) -> tuple[AgeRules, list[str]]:
    """The quarantine rules in an index configuration and the problems with them."""
    return _parse(
        index,
        _text(options.get("policy_min_age", DEFAULTS["policy_min_age"])),
        _text(options.get("policy_freeze", DEFAULTS["policy_freeze"])),
        _text(options.get("policy_unknown_age", DEFAULTS["policy_unknown_age"])),
    )


def now() -> datetime:
    return datetime.now(UTC)


class _Verdicts(SerialMemo[Hashable, AgeVerdict]):
    """Verdicts of one keyfs serial (exceptions and stored times change only with a new
    one), each used only until its ``changes_at``: a quarantined file's verdict expires the
    moment it is old enough, an exception's when the exception does."""


_VERDICTS_MAX: Final = 65536


@lru_cache(maxsize=8)  # one xom per process (tests: a few)
def _verdicts_of(xom: Any) -> _Verdicts:  # noqa: ARG001 - xom is the cache key
    return _Verdicts()


def judge(xom: Any, rules: AgeRules, subject: Subject, at: datetime | None = None) -> AgeVerdict:
    """The verdict of ``rules`` (index ``rules.index``) about a file or a release; a
    project as a whole is never quarantined (its old releases stay)."""
    version = subject.version
    if subject.filename is not None:
        version = split_filename(subject.filename)[1] or version
    if rules.empty or (version is None and subject.filename is None):
        return AgeVerdict()
    where = (subject.stored_in, subject.project, version, subject.filename)
    return _judged(xom, rules, where, at or now())


def judge_file(
    xom: Any, rules: AgeRules, file: tuple[str | None, str, str], at: datetime
) -> AgeVerdict:
    """:func:`judge` of a file a listing serves: ``file`` is (the index holding it, if
    known; its project; its name)."""
    if rules.empty:
        return AgeVerdict()
    stored_in, project, filename = file
    return _judged(xom, rules, (stored_in, project, split_filename(filename)[1], filename), at)


def _judged(
    xom: Any,
    rules: AgeRules,
    where: tuple[str | None, str, str | None, str | None],
    moment: datetime,
) -> AgeVerdict:
    """The verdict about ``where``: (stored in, project, version, file name or ``None``)."""
    table = _verdicts_of(xom).table(xom)
    key = (rules, *where)
    found = None if table is None else table.get(key)
    if found is not None and (found.changes_at is None or moment < found.changes_at):
        return found
    _, project, version, filename = where
    exceptions = exceptions_store.load(xom, rules.index)
    until = excepted_until(exceptions, project, version, moment)
    label = filename or f"{project} {version}"
    uploaded = _uploaded(xom, rules.index, where)
    verdict = judge_age(rules, label, uploaded, moment, excepted_until=until)
    # an unknown time may still arrive at this serial (a fetch under way): not kept
    if table is not None and uploaded is not None and len(table) < _VERDICTS_MAX:
        table[key] = verdict
    return verdict


def _uploaded(
    xom: Any, index: str, where: tuple[str | None, str, str | None, str | None]
) -> datetime | None:
    stored_in, project, version, filename = where
    holder = upload_times.stage_by_name(xom, stored_in) if stored_in else None
    if holder is None:
        rules_stage = upload_times.stage_by_name(xom, index)
        stages = [] if rules_stage is None else list(rules_stage.sro())
    else:
        stages = [holder]
    if filename is not None:
        for stage in stages:
            found = upload_times.project_times(stage, project).get(filename)
            if found is None and _lists(stage, project, filename):
                found = upload_times.file_time(stage, project, filename)
            if found is not None:
                return found.uploaded
        return None
    if version is None:
        return None
    return upload_times.release_time(stages, project, version)


def _lists(stage: Any, project: str, filename: str) -> bool:
    try:
        return any(link.key == filename for link in stage.get_simplelinks_perstage(project))
    except (stage.UpstreamError, stage.UpstreamNotFoundError):
        return False
