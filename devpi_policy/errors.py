"""Errors of devpi_policy."""

from __future__ import annotations


class PolicyError(Exception):
    """Base of devpi_policy's errors."""


class InvalidRulesError(PolicyError, ValueError):
    """Index options that do not parse; ``issues`` lists every problem found."""

    def __init__(self, issues: list[str]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(issues))


class InvalidSpecError(PolicyError, ValueError):
    """A ``devpi policy check`` spec that is neither a requirement nor a file name."""


class InvalidSinceError(PolicyError, ValueError):
    """An audit ``since`` that is neither a duration nor a time."""


class InvalidServerOptionsError(PolicyError, ValueError):
    """``--policy-*`` server options that cannot work; ``issues`` lists every problem."""

    def __init__(self, issues: list[str]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(issues))
