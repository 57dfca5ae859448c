"""Probing build hosts and images for their CPythons, and reading a container's answer tar."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from typing import TYPE_CHECKING

import pytest

from devpi_buildfarm.core import interpreters as ip
from devpi_buildfarm.core.framing import FrameError
from devpi_buildfarm.core.onefile_tar import only_file
from devpi_buildfarm.core.targets import parse_target

if TYPE_CHECKING:
    from pathlib import Path

MANYLINUX = """x86_64
64
python /opt/python/cp310-cp310/bin/python
python /opt/python/cp311-cp311/bin/python
python /opt/python/cp313-cp313t/bin/python
python /opt/python/cp313-cp313/bin/python
python /usr/bin/python3.6
"""


def test_the_manylinux_layout_is_preferred_and_free_threading_kept_apart() -> None:
    probe = ip.parse_probe(MANYLINUX)
    assert probe.arch == "x86_64"
    assert ip.tool_python(probe) == "/opt/python/cp313-cp313/bin/python"
    target = parse_target("cp313t-manylinux_x86_64")
    assert ip.target_python(probe, target) == "/opt/python/cp313-cp313t/bin/python"
    cp311 = parse_target("cp311-manylinux_x86_64")
    assert ip.target_python(probe, cp311) == "/opt/python/cp311-cp311/bin/python"
    assert ip.problem(probe, parse_target("cp311-manylinux_x86_64")) is None


@pytest.mark.parametrize(
    ("text", "target", "why"),
    [
        (MANYLINUX, "cp311-manylinux_aarch64", "it runs x86_64, the target needs aarch64"),
        ("x86_64\n64\npython /usr/bin/python3.9\n", "cp39-manylinux_x86_64",
         "no CPython 3.11 or newer to run the build driver"),
        ("x86_64\n64\npython /usr/bin/python3.11\n", "cp312-manylinux_x86_64",
         "it has no CPython for cp312 (found: 3.11)"),
        ("x86_64\n32\npython /usr/bin/python3.11\n", "cp311-manylinux_x86_64",
         "it runs i686"),
    ],
)  # fmt: skip
def test_problems_name_the_reason(text: str, target: str, why: str) -> None:
    assert why in str(ip.problem(ip.parse_probe(text), parse_target(target)))


@pytest.mark.parametrize("text", ["", "x86_64\n", "x86_64\nlots\n"])
def test_a_broken_probe_answer_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unexpected probe answer"):
        ip.parse_probe(text)


def test_lines_that_are_no_versioned_cpython_are_ignored() -> None:
    probe = ip.parse_probe(
        "aarch64\n64\npython /usr/bin/python3\nnoise /usr/bin/python3.12\n"
        "python /usr/bin/python3.12-config\npython /usr/bin/python3.12\n"
    )
    assert probe.pythons == {(12, False): "/usr/bin/python3.12"}  # fmt: skip
    assert ip.native_archs("aarch64") == ("aarch64", "armv7l")


def tar_of(*members: tuple[tarfile.TarInfo, bytes], pax: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers=pax or {}) as tar:  # fmt: skip
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def regular(name: str = "answer") -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def test_the_answer_is_read_past_pax_records_without_parsing_them() -> None:
    data = b"frame\n" + b"x" * 1000
    info = regular()
    info.pax_headers = {"SCHILY.xattr.user.evil": "A" * 30000}  # what a build can set
    body = only_file(io.BytesIO(tar_of((info, data), pax={"comment": "g"})), "answer", 2000)
    assert body.readline(100) == b"frame\n"
    assert body.read() == b"x" * 1000
    assert body.read() == b""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (tar_of((regular("other"), b"x")), "not a regular file named 'answer'"),
        (tar_of((regular(), b"x" * 5000)), "over the limit of 4096"),
        (tar_of((regular(), b"x"))[:100], "ended early"),
    ],
)
def test_what_is_not_one_bounded_regular_file_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        only_file(io.BytesIO(data), "answer", 4096).read()


def test_a_truncated_body_reads_short() -> None:
    # the frame reader then refuses the frame: its sizes are declared up front
    body = only_file(io.BytesIO(tar_of((regular(), b"x" * 10))[:515]), "answer", 4096)
    assert body.read() == b"xxx"


def test_links_devices_and_huge_pax_records_are_refused() -> None:
    link = tarfile.TarInfo("answer")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(FrameError, match="not a regular file"):
        only_file(io.BytesIO(tar_of((link, b""))), "answer", 4096)
    info = regular()
    info.pax_headers = {"SCHILY.xattr.user.big": "A" * 70000}
    with pytest.raises(FrameError, match="extended header is"):
        only_file(io.BytesIO(tar_of((info, b"x"))), "answer", 4096)


def smoke(tmp_path: Path, files: dict[str, str], *names: str) -> tuple[int, str]:
    """The smoke test's import script over ``files`` (a wheel's modules) in ``tmp_path``."""
    from devpi_buildfarm.inside.driver import IMPORT_EACH

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    done = subprocess.run([sys.executable, "-c", IMPORT_EACH, *names], capture_output=True,
                          text=True, check=False, cwd=tmp_path,
                          env={"PYTHONPATH": str(tmp_path)})  # fmt: skip
    return done.returncode, done.stdout


def test_smoke_skips_what_needs_a_module_from_outside_the_wheel(tmp_path: Path) -> None:
    files = {"pkg/__init__.py": "", "pkg/tests/__init__.py": "import pytest_x\n"}
    code, out = smoke(tmp_path, files, "pkg", "pkg.tests")
    assert code == 0, out
    assert "import pkg: ok" in out
    assert "import pkg.tests: skipped: it needs pytest_x" in out
    # a wheel none of whose modules imports alone (ruamel.yaml.clib needs ruamel.yaml)
    code, out = smoke(tmp_path / "alone", {"a/__init__.py": "import gone_dep\n"}, "a")
    assert code == 0, out
    assert "nothing imports without modules from outside the wheel" in out


@pytest.mark.parametrize(
    ("files", "names", "reason"),
    [
        ({"pkg/__init__.py": "raise ImportError('undefined symbol: PyFoo')\n"}, ("pkg",),
         "smoke failed: import pkg: ImportError: undefined symbol: PyFoo"),
        ({"pkg/__init__.py": ""}, ("pkg", "pkg._speedups"),
         "smoke failed: import pkg._speedups: ModuleNotFoundError"),
    ],
)  # fmt: skip
def test_smoke_fails_on_what_the_wheel_itself_breaks(
    tmp_path: Path, files: dict[str, str], names: tuple[str, ...], reason: str
) -> None:
    code, out = smoke(tmp_path, files, *names)
    assert code == 1
    assert reason in out
