"""Services and tools a test needs: skipped locally when missing, a failure under CI=true."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(problem: str | None, what: str) -> None:
    """Skip (locally) or fail (CI=true) the current test when ``problem`` is set."""
    if problem is None:
        return
    msg = f"{what} is not available: {problem}"
    if in_ci():
        pytest.fail(f"{msg} (CI=true: a missing service is a failure)")
    pytest.skip(msg)
