"""The environment that makes a devpi-server process load the read-restriction test plugin.

``tests/harness/readacl/`` holds ``devpi_readacl_test.py`` and its ``*.dist-info`` (with the
``devpi_server`` entry point); on PYTHONPATH, devpi-server finds it through
``importlib.metadata`` like an installed plugin. Only servers started with this environment
load it::

    DevpiServer(tmp_path / "serverdir", BINDIR, env=readacl_env()).start()

An index with ``title="read-restricted:root,alice"`` is then readable by root and alice only.
"""

from __future__ import annotations

import os
from pathlib import Path

READACL_DIR = Path(__file__).resolve().parent / "readacl"
#: The prefix of an index title that restricts reading (the principals follow, comma-separated)
READ_RESTRICTED = "read-restricted:"


def readacl_env(base: str | None = None) -> dict[str, str]:
    """Environment additions for :class:`harness.server.DevpiServer` (``env=``).

    ``base`` is a PYTHONPATH to keep after the plugin directory (DevpiServer's own
    environment drops the caller's PYTHONPATH).
    """
    path = os.pathsep.join(p for p in (str(READACL_DIR), base) if p)
    return {"PYTHONPATH": path}
