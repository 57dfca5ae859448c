"""The one place that builds environments for client subprocesses (pip, uv, twine, devpi).

The machines this project runs on carry a global pip configuration with extra local indexes
and find-links that hold hundreds of real projects. A test that inherited it could pass while
installing from those instead of from the server under test, so every subprocess gets an
environment from :func:`isolated_env`: no pip/uv/twine/devpi variable of the caller, no user
or global configuration file, no cache, and a private HOME.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

#: Variable prefixes that configure package clients; none may leak into a test subprocess.
_STRIPPED_PREFIXES = ("PIP_", "UV_", "TWINE_", "DEVPI_", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_")
#: Proxies would route loopback traffic away from the servers under test.
_STRIPPED_NAMES = {
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
}


def isolated_env(
    home: Path, *, index_url: str | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """An environment for a client subprocess that sees only the server under test.

    ``home`` becomes HOME and the XDG directories, so no user configuration applies;
    ``index_url``, when given, is also set as the default index of pip and uv.
    """
    source = os.environ if base is None else base
    env = {
        key: value
        for key, value in source.items()
        if not key.startswith(_STRIPPED_PREFIXES) and key not in _STRIPPED_NAMES
    }
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        # pip loads no configuration file at all when PIP_CONFIG_FILE is os.devnull
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_CACHE_DIR="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_NO_PYTHON_VERSION_WARNING="1",
        UV_NO_CONFIG="1",
        UV_NO_CACHE="1",
        UV_PYTHON_DOWNLOADS="never",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if index_url is not None:
        env["PIP_INDEX_URL"] = index_url
        env["UV_DEFAULT_INDEX"] = index_url
    return env
