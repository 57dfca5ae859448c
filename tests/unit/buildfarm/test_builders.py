"""The builders file: schema, defaults and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from devpi_buildfarm.core.builders import (
    builder_for,
    default_builder,
    parse_builders,
    parse_memory,
)
from devpi_buildfarm.errors import InvalidBuildersError

EXAMPLE = Path(__file__).parents[3] / "examples" / "builders.toml"


def test_parses_a_local_builder() -> None:
    (builder,) = parse_builders(
        """
        [builder.linux]
        backend = "local"
        targets = ["cp311-manylinux_x86_64", "cp311-musllinux_*"]
        manylinux = "manylinux_2_28"
        max_jobs = 2
        timeout = 600
        memory = "2g"
        pids = 256
        """
    )
    assert builder.name == "linux"
    assert builder.targets[0] == "cp311-manylinux_x86_64"
    assert "cp311-musllinux_aarch64" in builder.targets
    assert (builder.max_jobs, builder.timeout, builder.memory, builder.pids) == (
        2,
        600,
        2 * 1024**3,
        256,
    )
    assert builder.policy_for("cp311-manylinux_x86_64") == "manylinux_2_28"
    assert builder.policy_for("cp311-musllinux_x86_64") is None


def test_defaults() -> None:
    (builder,) = parse_builders('[builder.b]\ntargets = ["cp311-manylinux_x86_64"]\n')
    assert (builder.backend, builder.max_jobs) == ("local", 1)
    # every limit is set even when the file sets none: no build runs unbounded
    assert (builder.memory, builder.pids, builder.disk, builder.timeout) == (
        4 * 1024**3,
        512,
        4 * 1024**3,
        1800,
    )
    assert (builder.output_bytes, builder.log_bytes) == (512 * 1024**2, 4 * 1024**2)


def test_size_limits_parse() -> None:
    (builder,) = parse_builders(
        '[builder.b]\ntargets = ["cp311-manylinux_x86_64"]\ndisk = "1g"\n'
        'output_bytes = "20m"\nlog_bytes = 4096\n'
    )
    assert (builder.disk, builder.output_bytes, builder.log_bytes) == (1024**3, 20 * 1024**2, 4096)


def test_reports_every_problem_at_once() -> None:
    with pytest.raises(InvalidBuildersError) as info:
        parse_builders(
            """
            [builder.a]
            backend = "local"
            targets = ["cp27-*"]
            max_jobz = 2
            [builder.b]
            backend = "vm"
            targets = []
            timeout = -1
            memory = "lots"
            manylinux = "glibc"
            [builder.c]
            backend = "local"
            targets = ["cp311-win_amd64"]
            image = "x"
            """
        )
    issues = info.value.issues
    text = "\n".join(issues)
    assert "builder 'a': unknown key 'max_jobz'; did you mean 'max_jobs'" in text
    assert "builder 'a': 'cp27-*' matches no known target" in text
    assert "builder 'b': backend 'vm' is not one of docker, local, ssh" in text
    assert "builder 'b': targets must be a non-empty list" in text
    assert "builder 'b': timeout must be a positive integer, not -1" in text
    assert "builder 'b': memory: memory 'lots' is not a size" in text
    assert "builder 'b': linux policy 'glibc'" in text
    assert "builder 'c': key 'image' does not apply to backend 'local'" in text
    assert len(issues) == 8


def test_unavailable_backend_is_named() -> None:
    with pytest.raises(InvalidBuildersError, match="backend 'ssh' is not available"):
        parse_builders(
            '[builder.d]\nbackend = "ssh"\nhost = "x"\ntargets = ["cp311-manylinux_x86_64"]\n'
        )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[builder", "not valid TOML"),
        ("", "no \\[builder.<name>\\] tables"),
        ('[builders.a]\ntargets = ["cp311-*"]\n', "unknown table 'builders'"),
        ("[builder]\na = 1\n", "must be a table"),
        ('["builder"."bad name"]\ntargets = ["cp311-*"]\n', "names are letters"),
    ],
)
def test_malformed_files(text: str, match: str) -> None:
    with pytest.raises(InvalidBuildersError, match=match):
        parse_builders(text)


@pytest.mark.parametrize(
    ("value", "expected"), [("512m", 512 * 1024**2), ("1G", 1024**3), (4096, 4096), ("10", 10)]
)
def test_parse_memory(value: object, expected: int) -> None:
    assert parse_memory(value) == expected


@pytest.mark.parametrize("value", ["0", "1t", -5, True, "g"])
def test_parse_memory_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_memory(value)


def test_builder_for_takes_the_first_serving() -> None:
    builders = parse_builders(
        '[builder.one]\ntargets = ["cp311-manylinux_x86_64"]\n'
        '[builder.two]\ntargets = ["cp311-*"]\n'
    )
    assert builder_for(builders, "cp311-manylinux_x86_64").name == "one"  # type: ignore[union-attr]
    assert builder_for(builders, "cp311-win_amd64").name == "two"  # type: ignore[union-attr]
    assert builder_for(builders, "cp312-win_amd64") is None


def test_default_builder_serves_the_host_target() -> None:
    builder = default_builder("cp311-manylinux_x86_64", "manylinux_2_36")
    assert builder.serves("cp311-manylinux_x86_64")
    assert builder.policy_for("cp311-manylinux_x86_64") == "manylinux_2_36"


def test_example_builders_file_loads() -> None:
    builders = parse_builders(EXAMPLE.read_text(), str(EXAMPLE))
    assert builders
    assert all(b.backend == "local" for b in builders)


def test_backends_of_installed_packages_bring_their_keys() -> None:
    text = '[builder.f]\nbackend = "fancy"\ntargets = ["cp311-manylinux_x86_64"]\nflavour = "x"\n'
    (builder,) = parse_builders(text, installed={"local": (), "fancy": ("flavour",)})
    assert (builder.backend, builder.settings) == ("fancy", {"flavour": "x"})
    with pytest.raises(InvalidBuildersError) as info:
        parse_builders(text)  # not installed here
    assert "backend 'fancy' is not one of" in str(info.value)
    assert "unknown key 'flavour'" in str(info.value)


def test_schema_backends_not_installed_say_so() -> None:
    text = '[builder.d]\nbackend = "ssh"\ntargets = ["cp311-manylinux_x86_64"]\nhost = "x"\n'
    with pytest.raises(InvalidBuildersError) as info:
        parse_builders(text)
    assert "backend 'ssh' is not available in this version; available: local" in str(info.value)
