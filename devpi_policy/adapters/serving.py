"""What an index may serve: the filters devpi applies to listings, for every index type.

devpi filters listings with the *queried* index's stage customizer, over what all its
bases hold. A wrapper on ``devpiserver_get_stage_customizer_classes`` (hooks.py) mixes
:class:`PolicyCustomizerMixin` into every index type's customizer, built-in ones
included, so rules hold on inheriting indexes too.

A file stored in index S and served through index Q is judged by the rules of every
index on Q's inheritance path down to S. For projects and versions, where devpi does not
say which index provides an item, an item refused by the index at position k of the path
stays visible only if an index above k (whose rules do not refuse it) holds it itself.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from devpi_server.model import BaseStageCustomizer

from devpi_foundry_common.customizers import CustomizerWrapper, Results
from devpi_policy.adapters import plugins, quarantine_pages
from devpi_policy.adapters.devpi import PolicyOptionsMixin
from devpi_policy.adapters.policy import IndexPolicy, option_problems, serving_path
from devpi_policy.core.evaluate import cached_file_denials, cached_release_denials, split_filename
from devpi_policy.core.links import link_basename, stored_in
from devpi_policy.core.subject import Subject

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from devpi_policy.core.rules import Rules

log = logging.getLogger(__name__)


class ServingView:
    """The policies on one index's inheritance path, for filtering what it serves."""

    def __init__(
        self, stage: Any, names: tuple[str, ...], policies: tuple[IndexPolicy, ...]
    ) -> None:
        self.stage = stage
        self.xom = stage.xom
        self.name = str(stage.name)
        self.policies = policies
        self.positions = {name: i for i, name in enumerate(names)}

    @classmethod
    def of(cls, stage: Any) -> ServingView | None:
        """The view of ``stage``; ``None`` when no index on its path has rules."""
        names, policies = serving_path(stage)
        if not any(p.active for p in policies):
            return None
        return cls(stage, names, policies)

    @cached_property
    def stages(self) -> list[Any]:
        """The stages of the path, only made when an item is refused (see below)."""
        return list(self.stage.sro())

    def _first_refusal(
        self, core: Callable[[Rules], Sequence[str]], make: Callable[[], Subject], upto: int
    ) -> int | None:
        """Position of the first index (up to ``upto``) whose enforced rules refuse.

        ``core`` gives devpi_policy's own (cached) reasons for one index's rules; the
        subject for plugins is only built when some index on the path has plugin rules.
        """
        subject: Subject | None = None
        facts = None
        for i, policy in enumerate(self.policies[: upto + 1]):
            if not policy.active:
                continue
            if policy.problems:
                refused = True
            else:
                refused = bool(core(policy.rules))
                if not refused and policy.plugin_rules:
                    if subject is None:
                        subject = make()
                        facts = plugins.new_facts(self.xom, subject)
                    assert facts is not None  # noqa: S101 - set together with subject
                    asked = replace(subject, index=policy.index)
                    refused = bool(
                        plugins.check(self.xom, asked, policy.options, facts, policy.quarantine)
                    )
            if refused and policy.mode == "enforce":
                return i
            if refused:
                log.debug("dry-run: %s would refuse an item of %s", policy.index, self.name)
        return None

    def project_allowed(self, project: str) -> bool:
        k = self._first_refusal(
            lambda rules: cached_release_denials(rules, project, None),
            lambda: Subject(phase="serve", index=self.name, project=project),
            len(self.policies) - 1,
        )
        return k is None or any(s.has_project_perstage(project) is True for s in self.stages[:k])

    def version_allowed(self, project: str, version: str) -> bool:
        k = self._first_refusal(
            lambda rules: cached_release_denials(rules, project, version),
            lambda: Subject(phase="serve", index=self.name, project=project, version=version),
            len(self.policies) - 1,
        )
        return k is None or any(
            version in (s.list_versions_perstage(project) or ()) for s in self.stages[:k]
        )

    def links_allowed(self, project: str, hrefs: tuple[str, ...]) -> Iterable[bool] | None:
        """Which of a project page's links (devpi hrefs) may be served through this index;
        ``None`` when all of them may (devpi then filters nothing)."""
        if not any(p.plugin_rules for p in self.policies):
            # devpi_policy's own rules only: the answer depends on nothing else, so a
            # project page's answer is memoised whole (pages are re-served unchanged)
            path = tuple((p.index, p.rules, bool(p.problems), p.mode) for p in self.policies)
            return _links_flags(path, hrefs)
        if all(p.quarantine is not None for p in self.policies if p.plugin_rules):
            # the quarantine is the only plugin rule: judged page-wise, memoised with expiry
            return quarantine_pages.links_flags(self.xom, self.policies, project, hrefs)
        return (self.file_allowed(project, link_basename(href), stored_in(href)) for href in hrefs)

    def file_allowed(self, project: str, filename: str, stored_in: str | None) -> bool:
        """Whether a file held by ``stored_in`` may be served through this index."""
        # an unknown holder: every index on the path judges
        upto = self.positions.get(stored_in or "", len(self.policies) - 1)

        def make() -> Subject:
            _, version, _ = split_filename(filename)
            return Subject(
                phase="serve",
                index=self.name,
                project=project,
                version=version,
                filename=filename,
                stored_in=stored_in,
            )

        k = self._first_refusal(lambda rules: cached_file_denials(rules, filename), make, upto)
        return k is None


@lru_cache(maxsize=128)
def _links_flags(
    path: tuple[tuple[str, Rules, bool, str], ...], hrefs: tuple[str, ...]
) -> tuple[bool, ...] | None:
    """Which links a path of (index, rules, invalid, mode) allows, ``None`` for all of
    them; memoised per page."""
    positions = {name: i for i, (name, _, _, _) in enumerate(path)}
    last = len(path) - 1
    flags = []
    for href in hrefs:
        filename = link_basename(href)
        allowed = True
        for _, rules, invalid, mode in path[: positions.get(stored_in(href) or "", last) + 1]:
            if mode == "enforce" and (invalid or cached_file_denials(rules, filename)):
                allowed = False
                break
        flags.append(allowed)
    return None if all(flags) else tuple(flags)


def _and(base: Iterator[bool], ours: Iterable[bool]) -> Iterator[bool]:
    for allowed in ours:
        yield bool(next(base, True)) and allowed


class PolicyCustomizerMixin(PolicyOptionsMixin):
    """Mixed in before every index type's customizer: options, validation and filters."""

    stage: Any
    InvalidIndexconfig: type[Exception]

    def validate_config(self, oldconfig: dict[str, Any], newconfig: dict[str, Any]) -> None:
        super().validate_config(oldconfig, newconfig)  # type: ignore[misc]  # mixin
        issues = option_problems(self.stage.name, newconfig)
        issues += plugins.validate_options(self.stage.xom, self.stage.name, newconfig)
        if issues:
            raise self.InvalidIndexconfig(issues)

    def _filter(self, base: Any, make: Callable[[ServingView], Iterable[bool] | None]) -> Any:
        """devpi's filter iterator: ``base`` (the customizer's own) and ours; ``None``
        (devpi filters nothing, per item) when neither refuses anything up front."""
        view = ServingView.of(self.stage)
        if view is None:
            return base
        ours = make(view)
        if ours is None:
            return base
        return iter(ours) if base is None else _and(base, ours)

    def get_projects_filter_iter(self, projects: Any) -> Any:
        base = super().get_projects_filter_iter(projects)  # type: ignore[misc]
        return self._filter(base, lambda view: (view.project_allowed(p) for p in projects))

    def get_versions_filter_iter(self, project: str, versions: Any) -> Any:
        base = super().get_versions_filter_iter(project, versions)  # type: ignore[misc]
        return self._filter(base, lambda view: (view.version_allowed(project, v) for v in versions))

    def get_simple_links_filter_iter(self, project: str, links: Any) -> Any:
        base = super().get_simple_links_filter_iter(project, links)  # type: ignore[misc]
        if links is None:
            return base
        return self._filter(
            base, lambda view: view.links_allowed(project, tuple(link.href for link in links))
        )


_WRAPPER = CustomizerWrapper(PolicyCustomizerMixin, BaseStageCustomizer, "Policy")


def wrap_customizers(results: Results) -> Results:
    """Every plugin's ``(index_type, customizer)`` pairs, each with the policy mixin."""
    return _WRAPPER.wrap_results(results)
