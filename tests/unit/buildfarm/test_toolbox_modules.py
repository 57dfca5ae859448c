"""The toolbox carries every module of ours that the build driver imports, directly or
through another: a sandbox without devpi-foundry installed (a container, a remote host, a
rootfs) has nothing else to import them from."""

from __future__ import annotations

import ast
from importlib.util import find_spec
from pathlib import Path

from devpi_buildfarm.adapters.toolbox import MODULES

OURS = ("devpi_buildfarm", "devpi_foundry_common", "devpi_policy", "devpi_license")


def imported_by(module: str) -> set[str]:
    """Our modules ``module`` imports at run time (``TYPE_CHECKING`` blocks left out)."""
    spec = find_spec(module)
    assert spec is not None
    assert spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    found: set[str] = set()
    for node in tree.body:  # module level only: what importing the module runs
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                names = [sub.module]
            elif isinstance(sub, ast.Import):
                names = [alias.name for alias in sub.names]
            else:
                continue
            found |= {n for n in names if n.split(".")[0] in OURS}
    return found


def test_the_toolbox_holds_everything_the_driver_imports() -> None:
    wanted, todo = set(), ["devpi_buildfarm.inside.driver"]
    while todo:
        module = todo.pop()
        if module in wanted:
            continue
        wanted.add(module)
        todo.extend(imported_by(module))
    packages = {".".join(m.split(".")[:i]) for m in wanted for i in range(1, m.count(".") + 1)}
    assert sorted((wanted | packages) - set(MODULES)) == []
