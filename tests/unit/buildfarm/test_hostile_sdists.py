"""The hostile sdists of ``harness.hostile`` are well-formed, and never run here.

Every case opens as a gzipped tar with one top directory holding ``PKG-INFO``,
``pyproject.toml`` and ``hostile_backend.py``; the pyproject names the in-tree backend and
the backend's source parses, defines the two hooks the build farm calls (and no
``prepare_metadata_for_build_wheel``) and carries the parameters as literals. The backends
are only parsed with :mod:`ast`, never imported or executed.
"""

from __future__ import annotations

import ast
import tarfile
import tomllib
from typing import TYPE_CHECKING, Any

import pytest

from harness.hostile import CASES, make_hostile_sdist

if TYPE_CHECKING:
    from pathlib import Path

PARAMS: dict[str, Any] = {
    "marker": "/tmp/hostile-marker",
    "paths": ["/etc/hostname", "/srv/secret"],
    "ports": [9, 4711],
    "secrets": ["s3cr3t-token"],
    "wheel_bytes": 3 << 20,
}
REQUIRES = {
    "requires-url": ["evil @ file:///etc/passwd"],
    "requires-path": ["./local-dir"],
    "requires-dash": ["-e/tmp/x"],
}


def unpack(sdist: Path) -> dict[str, bytes]:
    with tarfile.open(sdist, "r:gz") as tar:
        members = tar.getmembers()
        assert all(m.isfile() for m in members)
        files = {}
        for member in members:
            handle = tar.extractfile(member)
            assert handle is not None
            files[member.name] = handle.read()
    return files


def constants(tree: ast.Module) -> dict[str, Any]:
    """The module-level ``NAME = <literal>`` assignments of a backend."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id.isupper():
                found[target.id] = ast.literal_eval(node.value)
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_is_a_well_formed_sdist_with_a_parsable_backend(tmp_path: Path, case: str) -> None:
    sdist = make_hostile_sdist(tmp_path, case, name="Hostile.Demo", version="2.0", **PARAMS)
    assert sdist.name == "hostile_demo-2.0.tar.gz"
    files = unpack(sdist)
    top = "hostile_demo-2.0"
    assert set(files) == {f"{top}/PKG-INFO", f"{top}/pyproject.toml", f"{top}/hostile_backend.py"}

    pkg_info = files[f"{top}/PKG-INFO"].decode()
    assert pkg_info.splitlines()[:3] == [
        "Metadata-Version: 2.1", "Name: Hostile.Demo", "Version: 2.0",
    ]  # fmt: skip

    system = tomllib.loads(files[f"{top}/pyproject.toml"].decode())["build-system"]
    assert system["build-backend"] == "hostile_backend"
    assert system["backend-path"] == ["."]
    expected = ["--index-url=http://127.0.0.1:9/evil", "setuptools"]
    assert system["requires"] == (expected if case == "requires-option" else [])

    tree = ast.parse(files[f"{top}/hostile_backend.py"], filename=f"{case}/hostile_backend.py")
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "prepare_metadata_for_build_wheel" not in functions
    assert [a.arg for a in functions["get_requires_for_build_wheel"].args.args] == [
        "config_settings"
    ]
    assert [a.arg for a in functions["build_wheel"].args.args] == [
        "wheel_directory", "config_settings", "metadata_directory",
    ]  # fmt: skip
    assert constants(tree) == {
        "NAME": "Hostile.Demo",
        "DIST": "hostile_demo",
        "MODULE": "hostile_demo",
        "VERSION": "2.0",
        "MARKER": PARAMS["marker"],
        "PATHS": PARAMS["paths"],
        "PORTS": PARAMS["ports"],
        "SECRETS": PARAMS["secrets"],
        "WHEEL_BYTES": PARAMS["wheel_bytes"],
        "REQUIRES": REQUIRES.get(case, []),
    }
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imports <= {"base64", "hashlib", "os", "re", "shlex", "socket", "sys", "time", "zipfile"}


def test_every_case_has_a_distinct_build_wheel(tmp_path: Path) -> None:
    bodies = {}
    for case in CASES:
        sdist = make_hostile_sdist(tmp_path / case, case, name="demo", **PARAMS)
        source = unpack(sdist)["demo-1.0/hostile_backend.py"].decode()
        tree = ast.parse(source)
        (build,) = (
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build_wheel"
        )
        bodies[case] = ast.dump(ast.Module(body=build.body, type_ignores=[]))
    normal = {"requires-option", "requires-url", "requires-path", "requires-dash"}
    assert len({bodies[c] for c in normal}) == 1
    assert len(set(bodies.values())) == len(CASES) - len(normal) + 1


def test_defaults_and_refusals(tmp_path: Path) -> None:
    sdist = make_hostile_sdist(tmp_path, "sleep", name="plain")
    source = unpack(sdist)["plain-1.0/hostile_backend.py"].decode()
    assert constants(ast.parse(source))["MARKER"] == ""
    with pytest.raises(ValueError, match="unknown hostile case"):
        make_hostile_sdist(tmp_path, "nope", name="x")
    with pytest.raises(ValueError, match="needs paths"):
        make_hostile_sdist(tmp_path, "symlink-out", name="x")


def test_parameters_are_literals_even_when_hostile(tmp_path: Path) -> None:
    tricky = '"; import os; os.system("id") #\n'
    sdist = make_hostile_sdist(tmp_path, "read", name="demo", marker=tricky, paths=[tricky])
    tree = ast.parse(unpack(sdist)["demo-1.0/hostile_backend.py"])
    found = constants(tree)
    assert found["MARKER"] == tricky
    assert found["PATHS"] == [tricky]
