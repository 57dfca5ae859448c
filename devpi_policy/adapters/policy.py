"""The policy of an index and decisions over an inheritance path, from devpi's stages.

Parsed rules are cached by their option values, so a request never re-parses unchanged
options. Options that do not parse (stored before validation existed, or restored by
devpi-import) fail closed: the index refuses everything, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from devpi_foundry_common.singletons import per_server
from devpi_policy.adapters import plugins
from devpi_policy.adapters.quarantine import age_rules
from devpi_policy.config import DEFAULTS
from devpi_policy.core.evaluate import (
    Decision,
    cached_file_denials,
    cached_release_denials,
    decide,
)
from devpi_policy.core.rules import MODES, Mode, Rules, parse_rules
from devpi_policy.errors import InvalidRulesError

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping, Sequence

    from devpi_policy.core.age import AgeRules
    from devpi_policy.core.facts import Facts
    from devpi_policy.core.subject import Subject


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexPolicy:
    """What devpi_policy and its plugins enforce on one index."""

    index: str
    mode: Mode
    rules: Rules
    problems: tuple[str, ...]
    options: Mapping[str, Any]
    plugin_rules: bool
    #: the quarantine rules, when they are the only plugin rules here (judged without pluggy)
    quarantine: AgeRules | None = None

    @property
    def active(self) -> bool:
        return bool(self.problems) or not self.rules.empty or self.plugin_rules


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@lru_cache(maxsize=4096)
def _parse(
    index: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    files: tuple[str, ...],
    mode: str,
) -> tuple[Rules, tuple[str, ...]]:
    try:
        return parse_rules(
            index, include=include, exclude=exclude, exclude_files=files, mode=mode
        ), ()
    except InvalidRulesError as exc:
        safe_mode: Mode = mode if mode in MODES else "enforce"
        return Rules(index=index, mode=safe_mode), exc.issues


def option_problems(index: str, options: Mapping[str, Any]) -> list[str]:
    """Every problem with the ``policy_*`` options in an index configuration."""
    return list(_parse_options(index, options)[1])


def _parse_options(index: str, options: Mapping[str, Any]) -> tuple[Rules, tuple[str, ...]]:
    return _parse(
        index,
        _as_tuple(options.get("policy_include")),
        _as_tuple(options.get("policy_exclude")),
        _as_tuple(options.get("policy_exclude_files")),
        str(options.get("policy_mode", DEFAULTS["policy_mode"])),
    )


def index_policy(stage: Any) -> IndexPolicy:
    """The policy of a devpi stage (any index type)."""
    options = stage.ixconfig
    rules, problems = _parse_options(stage.name, options)
    quarantine, others = plugins.rule_kinds(stage.xom, stage.name, options)
    return IndexPolicy(
        index=stage.name,
        mode=rules.mode,
        rules=rules,
        problems=problems,
        options=options,
        plugin_rules=quarantine or others,
        quarantine=age_rules(stage.name, options)[0] if quarantine and not others else None,
    )


class PolicyCache:
    """Index policies at one keyfs serial: options cannot change without a new serial.

    Beside the policies it keeps a memo for answers that follow from them alone (download
    decisions without plugin rules), dropped with them when the serial changes. Neither is
    used inside a write transaction, which may change the options.
    """

    def __init__(self) -> None:
        self.state: tuple[int, dict[str, IndexPolicy | None], dict[Hashable, Any]] = (-1, {}, {})

    def _at_serial(
        self, xom: Any
    ) -> tuple[int, dict[str, IndexPolicy | None], dict[Hashable, Any]] | None:
        tx = xom.keyfs.tx
        serial = getattr(tx, "at_serial", None)
        if serial is None or getattr(tx, "write", True):  # a write may change the options
            return None
        state = self.state
        if state[0] != serial:
            state = (serial, {}, {})
            self.state = state  # one assignment: readers see a whole (serial, dicts) triple
        return state

    def get(self, xom: Any, name: str) -> IndexPolicy | None:
        state = self._at_serial(xom)
        if state is None:
            return _load_policy(xom, name)
        try:
            return state[1][name]
        except KeyError:
            policy = state[1][name] = _load_policy(xom, name)
            return policy

    def memo(self, xom: Any) -> dict[Hashable, Any] | None:
        """This serial's memo (``None`` in a write transaction): only for values that
        depend on nothing but the index options and the key, and at most MEMO_SIZE."""
        state = self._at_serial(xom)
        return None if state is None else state[2]


#: Entries one serial's memo takes; beyond it, answers are computed (a serial can last long).
MEMO_SIZE = 8192


def _load_policy(xom: Any, name: str) -> IndexPolicy | None:
    stage = xom.model.getstage(name)
    return None if stage is None else index_policy(stage)


def policy_cache(xom: Any) -> PolicyCache:
    """This server's :class:`PolicyCache` (look it up once: it goes through devpi's lock)."""
    return per_server(xom, "devpi-policy", "policy-cache", PolicyCache)


@lru_cache(maxsize=8)
def _server_cache(xom: Any) -> PolicyCache:
    """:func:`policy_cache` without devpi's singleton lock on every call (a process has
    one xom; tests a few)."""
    return policy_cache(xom)


def serving_path(stage: Any) -> tuple[tuple[str, ...], tuple[IndexPolicy, ...]]:
    """Names and policies of the indexes on ``stage``'s inheritance path (devpi's ``sro``).

    Memoised per keyfs serial (bases and options change only with a new one), unless a
    plugin implements ``devpiserver_sro_skip``, whose answer may depend on the request:
    every listing asks, and walking the path makes devpi copy each base's user record.
    """
    xom = stage.xom
    memo = None
    if not xom.config.hook.devpiserver_sro_skip.get_hookimpls():
        memo = _server_cache(xom).memo(xom)
    key = ("serving-path", stage.name)
    found: tuple[tuple[str, ...], tuple[IndexPolicy, ...]] | None = (
        None if memo is None else memo.get(key)
    )
    if found is None:
        stages = list(stage.sro())
        found = (tuple(s.name for s in stages), tuple(index_policy(s) for s in stages))
        if memo is not None and len(memo) < MEMO_SIZE:
            memo[key] = found
    return found


def policy_by_name(xom: Any, name: str) -> IndexPolicy | None:
    """The policy of index ``name`` (``None``: no such index), without building its stage
    when this read transaction's serial has been seen before."""
    return policy_cache(xom).get(xom, name)


def index_reasons(xom: Any, policy: IndexPolicy, subject: Subject, facts: Facts) -> list[str]:
    """Why ``policy`` refuses ``subject`` (empty: allowed); ``subject.index`` is overridden."""
    if not policy.active:
        return []
    if policy.problems:
        issues = "; ".join(policy.problems)
        return [f"the policy options of {policy.index} are invalid, so it refuses all: {issues}"]
    if subject.filename:
        reasons = list(cached_file_denials(policy.rules, subject.filename))
        # an upload's form, or a download's entry (tox results, documentation), may name
        # another release than the file name does: both must pass
        if subject.phase in ("upload", "download"):
            more = cached_release_denials(policy.rules, subject.project, subject.version)
            reasons += [r for r in more if r not in reasons]
    else:
        reasons = list(cached_release_denials(policy.rules, subject.project, subject.version))
    if policy.plugin_rules:
        asked = replace(subject, index=policy.index)
        reasons += plugins.check(xom, asked, policy.options, facts, policy.quarantine)
    return reasons


def decide_path(xom: Any, path: Sequence[IndexPolicy], subject: Subject) -> Decision:
    """The decision of every index on ``path`` about ``subject``."""
    facts = plugins.new_facts(xom, subject)
    return decide([(p.mode, index_reasons(xom, p, subject, facts)) for p in path])
