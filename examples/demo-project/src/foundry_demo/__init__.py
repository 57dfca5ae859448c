"""The devpi-foundry demo project: one function, one dependency."""

from __future__ import annotations

from packaging.version import Version


def newest(*versions: str) -> str:
    """The newest of ``versions`` (PEP 440 order)."""
    return str(max(Version(v) for v in versions))
