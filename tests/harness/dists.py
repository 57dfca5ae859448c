"""Builders of real sdists and wheels, made in a test's tmp_path with chosen metadata.

``make_sdist`` writes a buildable setuptools project (optionally with a C extension);
``make_wheel`` writes a pure wheel with METADATA, WHEEL and a hashed RECORD that pip and
uv install; ``build_wheel`` compiles an sdist with the real ``pip wheel``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.env import isolated_env

if TYPE_CHECKING:
    from pathlib import Path

C_SOURCE = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, "the answer"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
"""


@dataclass(frozen=True)
class Project:
    """Name, version and core-metadata fields of a test project."""

    name: str
    version: str
    metadata: dict[str, str | list[str]] = field(default_factory=dict)
    c_extension: bool = False
    #: seconds ``bdist_wheel`` sleeps (a slow build, to act on while it runs)
    build_seconds: float = 0.0

    @property
    def module(self) -> str:
        return re.sub(r"[-.]+", "_", self.name).lower()

    @property
    def dist_name(self) -> str:
        """The name as it appears in file names (PEP 625 / wheel spec)."""
        return re.sub(r"[-_.]+", "_", self.name).lower()

    def core_metadata(self, metadata_version: str = "2.1") -> str:
        lines = [f"Metadata-Version: {metadata_version}", f"Name: {self.name}"]
        lines.append(f"Version: {self.version}")
        for key, value in self.metadata.items():
            items = [value] if isinstance(value, str) else value
            lines.extend(f"{key}: {item}" for item in items)
        return "\n".join(lines) + "\n\n"


def _metadata_version(project: Project) -> str:
    pep639 = {"License-Expression", "License-File"}
    return "2.4" if pep639.intersection(project.metadata) else "2.1"


def make_sdist(dest: Path, project: Project) -> Path:
    """A ``.tar.gz`` sdist of ``project`` that setuptools can build."""
    dest.mkdir(parents=True, exist_ok=True)
    top = f"{project.dist_name}-{project.version}"
    ext = (
        f"ext_modules=[Extension('{project.module}._speedups', ['src/_speedups.c'])],"
        if project.c_extension
        else ""
    )
    license_text = project.metadata.get("License-Expression") or project.metadata.get("License")
    extra = f"license={license_text!r}," if isinstance(license_text, str) else ""
    files = {
        "PKG-INFO": project.core_metadata(_metadata_version(project)),
        "pyproject.toml": textwrap.dedent("""\
            [build-system]
            requires = ["setuptools>=61", "wheel"]
            build-backend = "setuptools.build_meta"
        """),
        "setup.py": textwrap.dedent(f"""\
            import sys, time
            from setuptools import Extension, setup
            if "bdist_wheel" in sys.argv and {project.build_seconds!r}:
                time.sleep({project.build_seconds!r})
            setup(name={project.name!r}, version={project.version!r},
                  packages=[{project.module!r}], {ext} {extra})
        """),
        f"{project.module}/__init__.py": f"VERSION = {project.version!r}\n",
    }
    if project.c_extension:
        files["src/_speedups.c"] = C_SOURCE
    path = dest / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def make_wheel(dest: Path, project: Project, tag: str = "py3-none-any") -> Path:
    """A pure wheel of ``project`` with a hashed RECORD."""
    dest.mkdir(parents=True, exist_ok=True)
    distinfo = f"{project.dist_name}-{project.version}.dist-info"
    files = {
        f"{project.module}/__init__.py": f"VERSION = {project.version!r}\n".encode(),
        f"{distinfo}/METADATA": project.core_metadata(_metadata_version(project)).encode(),
        f"{distinfo}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: devpi-foundry-tests\n"
            f"Root-Is-Purelib: {'true' if tag.endswith('-any') else 'false'}\nTag: {tag}\n\n"
        ).encode(),
    }
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files.items()]
    record.append(f"{distinfo}/RECORD,,")
    files[f"{distinfo}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = dest / f"{project.dist_name}-{project.version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20)), data)
    return path


def build_wheel(sdist: Path, dest: Path, home: Path) -> Path:
    """Build ``sdist`` into a wheel with the real ``pip wheel`` (offline, no isolation)."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    cmd = [
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
        "--no-build-isolation", "-w", str(dest), str(sdist),
    ]  # fmt: skip
    subprocess.run(cmd, env=isolated_env(home), check=True, capture_output=True)
    (wheel,) = set(dest.glob("*.whl")) - before
    return wheel


def repack_installed(dist_name: str, dest: Path) -> Path:
    """A wheel of a distribution installed in this test environment (from its RECORD).

    Build tools (setuptools, wheel) for an index under test, without the network.
    """
    from importlib.metadata import distribution
    from pathlib import Path

    dist = distribution(dist_name)
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    version = dist.version
    path = dest / f"{name}-{version}-py3-none-any.whl"
    files = [
        f
        for f in dist.files or []
        if not str(f).startswith("..") and "__pycache__" not in str(f) and f.suffix != ".pyc"
    ]
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        record = []
        for file in files:
            rel = str(file)
            if rel.endswith(("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")):
                continue
            data = Path(file.locate()).read_bytes()
            zf.writestr(rel, data)
            record.append(f"{rel},sha256={_record_hash(data)},{len(data)}")
        info = f"{dist._path.name}" if hasattr(dist, "_path") else f"{name}-{version}.dist-info"  # noqa: SLF001
        wheel_meta = (
            "Wheel-Version: 1.0\nGenerator: devpi-foundry-tests\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n"
        )
        if f"{info}/WHEEL" not in {str(f) for f in files}:
            zf.writestr(f"{info}/WHEEL", wheel_meta)
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path
