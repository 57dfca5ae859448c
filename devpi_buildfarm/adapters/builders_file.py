"""The builders of a server: its builders file, or one local builder for the host itself."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from devpi_buildfarm.adapters import backends
from devpi_buildfarm.core.builders import Builder, default_builder, parse_builders
from devpi_buildfarm.core.targets import host_target

if TYPE_CHECKING:
    from devpi_buildfarm.config import ServerOptions


def load_builders(options: ServerOptions) -> tuple[Builder, ...]:
    """The builders file's builders, or the local host's default builder."""
    if options.builders_file:
        path = Path(options.builders_file)
        installed = backends.settings_keys()
        return parse_builders(path.read_text(encoding="utf-8"), str(path), installed)
    target, policy = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
    return (default_builder(target, policy, max_jobs=options.workers),)
