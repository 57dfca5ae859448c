"""Errors of devpi_buildfarm."""

from __future__ import annotations


class BuildfarmError(Exception):
    """Base of devpi_buildfarm's errors."""


class InvalidTargetError(BuildfarmError, ValueError):
    """A target identifier or Linux policy that does not parse."""


class InvalidBuildersError(BuildfarmError, ValueError):
    """A builders file with problems; ``issues`` lists every one of them."""

    def __init__(self, issues: list[str]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(issues))


class JobTransitionError(BuildfarmError):
    """An event that does not apply to a job in its current state."""

    def __init__(self, state: str, event: str) -> None:
        self.state = str(state)
        self.event = str(event)
        hint = ""
        if self.state == "skipped":
            hint = "; ask for the build with 'devpi build request' to queue it"
        super().__init__(f"cannot {self.event} a job that is {self.state}{hint}")


class BuildError(BuildfarmError):
    """A build that failed; ``stage`` names the step (``deps``, ``build``, ``repair``...).

    ``permanent``: another attempt would fail the same way (a refused requirement, a wheel
    that does not fit its job, a refused publication), so the job fails at once.
    """

    def __init__(self, message: str, *, stage: str, permanent: bool = False) -> None:
        self.stage = stage
        self.permanent = permanent
        #: what confined the build when it failed (set by the backend, shown in the job)
        self.isolation: str | None = None
        super().__init__(f"{stage}: {message}")
