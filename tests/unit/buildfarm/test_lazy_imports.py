"""Installed but unused, the build farm costs a serving devpi nothing: loading the plugin
(hooks, views, devpi-web hooks, client) imports neither SQLAlchemy nor the build tools."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_plugin_imports_no_queue_or_build_libraries() -> None:
    code = (
        "import sys\n"
        "import devpi_buildfarm.hooks, devpi_buildfarm.views, devpi_buildfarm.web\n"
        "import devpi_buildfarm.client\n"
        "heavy = ('sqlalchemy', 'pyproject_hooks', 'auditwheel', 'pg8000')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
