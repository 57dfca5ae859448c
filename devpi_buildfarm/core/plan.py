"""Which builds an sdist needs: one per configured target not yet covered by a wheel."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.core.builders import Builder, builder_for

if TYPE_CHECKING:
    from collections.abc import Iterable

    from devpi_buildfarm.core.jobs import JobSpec


@dataclass(frozen=True, kw_only=True, slots=True)
class Planned:
    """A target's outcome: a job to queue, or why none is needed (``skip``)."""

    target: str
    job: JobSpec | None = None
    skip: str | None = None


def covering_wheel(wheels: Iterable[str], target: str, policy: str | None) -> str | None:
    """The first of ``wheels`` (file names) that a ``target`` installation would install."""
    accepted = tg.accepted_tags(target, policy)
    for name in wheels:
        try:
            _, _, _, tags = parse_wheel_filename(name)
        except InvalidWheelFilename:
            continue
        if not tags.isdisjoint(accepted):
            return name
    return None


def plan_builds(
    base: JobSpec, patterns: Iterable[str], builders: tuple[Builder, ...], wheels: Iterable[str]
) -> list[Planned]:
    """One :class:`Planned` per known target matching ``patterns``.

    ``base`` carries the sdist, index and upload target (its ``target``/``builder`` are
    replaced); ``wheels`` are the file names the release already has.
    """
    existing = list(wheels)
    planned = []
    for target in tg.expand(list(patterns)):
        builder = builder_for(builders, target)
        if builder is None:
            planned.append(Planned(target=target, skip=f"no builder serves target {target!r}"))
            continue
        policy = builder.policy_for(target)
        wheel = covering_wheel(existing, target, policy)
        if wheel is not None:
            planned.append(Planned(target=target, skip=f"{wheel!r} already serves {target!r}"))
            continue
        job = replace(base, target=target, builder=builder.name, policy=policy)
        planned.append(Planned(target=target, job=job))
    return planned


def result_problems(
    wheel: str, *, target: str, policy: str | None, project: str, version: str
) -> list[str]:
    """Why a built wheel's file name does not fit its job (empty: it does)."""
    try:
        name, wheel_version, _, tags = parse_wheel_filename(wheel)
    except InvalidWheelFilename as exc:
        return [f"{wheel!r} is not a valid wheel file name: {exc}"]
    problems = []
    if name != canonicalize_name(project):
        problems.append(f"{wheel!r} names project {name!r}, the sdist is {project!r}")
    if not same_release(project, str(wheel_version), project, version):
        problems.append(f"{wheel!r} has version {wheel_version}, the sdist {version!r}")
    if tags.isdisjoint(tg.accepted_tags(target, policy)):
        problems.append(f"{wheel!r}: no tag of it is installable on target {target!r}")
    return problems


def same_release(name: str, version: str, project: str, expected: str) -> bool:
    """Whether ``name version`` is ``project expected`` (normalised names and versions).

    >>> same_release("Demo_Ext", "1.0.0", "demo-ext", "1.0")
    True
    """
    if canonicalize_name(name) != canonicalize_name(project):
        return False
    try:
        return Version(version) == Version(expected)
    except InvalidVersion:
        return version == expected
