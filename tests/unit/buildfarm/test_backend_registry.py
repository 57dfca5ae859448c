"""Build backends are chosen per builder from a registry that installed packages extend
through the ``devpi_buildfarm.backends`` entry-point group (a real entry point here)."""

from __future__ import annotations

import importlib
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from devpi_buildfarm.adapters import backends
from devpi_buildfarm.config import ServerOptions
from devpi_buildfarm.core.builders import parse_builders

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MODULE = """\
class Fancy:
    name = "fancy"
    isolation = "fancy-isolation"

    def __init__(self, builder, options):
        self.builder = builder

    def build(self, request, workdir, log, cancelled):  # registry tests never build
        raise RuntimeError("the registry test does not build")


def factory(builder, options):
    return Fancy(builder, options)


factory.settings_keys = ("flavour",)
"""


@pytest.fixture
def fancy_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "fancy_backend.py").write_text(MODULE)
    info = tmp_path / "fancy_backend-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fancy-backend\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
            [devpi_buildfarm.backends]
            fancy = fancy_backend:factory
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield
    sys.modules.pop("fancy_backend", None)


def options(tmp_path: Path) -> ServerOptions:
    return ServerOptions.from_args(object(), str(tmp_path))


@pytest.mark.usefixtures("fancy_installed")
def test_an_installed_backend_is_registered_with_its_keys(tmp_path: Path) -> None:
    assert backends.settings_keys()["fancy"] == ("flavour",)
    text = '[builder.f]\nbackend = "fancy"\ntargets = ["cp311-manylinux_x86_64"]\nflavour = "x"\n'
    builders = parse_builders(text, installed=backends.settings_keys())
    made = backends.make_backends(builders, options(tmp_path))
    assert made["f"].name == "fancy"
    assert made["f"].isolation == "fancy-isolation"


def test_an_unknown_backend_is_named_with_what_is_available(tmp_path: Path) -> None:
    (builder,) = parse_builders(
        '[builder.f]\nbackend = "fancy"\ntargets = ["cp311-manylinux_x86_64"]\n',
        installed={"local": (), "fancy": ()},
    )
    with pytest.raises(
        LookupError, match="backend 'fancy' is not installed; available: docker, local"
    ):
        backends.make_backends((builder,), options(tmp_path))
