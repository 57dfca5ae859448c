"""The build driver's installs (``installer``, inside the sandbox) and the docker backend's
daemon timestamps: real venvs and wheels, no sandbox needed for what is tested here."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from devpi_buildfarm.adapters.docker_io import docker_timestamp
from devpi_buildfarm.inside import driver
from harness.dists import Project, make_wheel


@pytest.fixture
def venv_python(tmp_path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")],
                   check=True)  # fmt: skip
    return tmp_path / "env" / "bin" / "python"


def evil_wheel(dest: Path, member: str) -> Path:
    """A wheel whose RECORD and archive name ``member`` (e.g. outside the venv)."""
    path = dest / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("evil/__init__.py", "")
        zf.writestr(member, "written\n")
        zf.writestr(
            "evil-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n"
        )
        zf.writestr("evil-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")  # fmt: skip
        zf.writestr("evil-1.0.dist-info/RECORD",
                    f"evil/__init__.py,,\n{member},,\nevil-1.0.dist-info/RECORD,,\n")  # fmt: skip
    return path


def test_install_wheels_puts_exactly_the_wheels_into_the_venv(
    tmp_path: Path, venv_python: Path
) -> None:
    wheels = [make_wheel(tmp_path / "w", Project(name, "1.0")) for name in ("alpha", "beta-two")]
    driver.install_wheels(venv_python, wheels, "smoke")
    site = Path(driver.venv_scheme(venv_python, "smoke")["purelib"])
    assert site.is_relative_to(tmp_path / "env")
    assert not list(site.rglob("*.pyc"))  # nothing compiled: a throw-away venv
    done = subprocess.run(
        [str(venv_python), "-I", "-c", "import alpha, beta_two; print(alpha.VERSION)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "1.0"
    installer = (site / "alpha-1.0.dist-info" / "INSTALLER").read_text()
    assert installer == "devpi-buildfarm\n"
    assert "installer alpha-1.0-py3-none-any.whl" in driver.COMMANDS


def test_headers_go_into_the_venv_as_pip_puts_them(tmp_path: Path, venv_python: Path) -> None:
    """greenlet's wheel carries C headers: sysconfig's include path is the base Python's
    (read-only in a sandbox: tox -e buildcoverage failed greenlet and sqlalchemy so)."""
    wheel = tmp_path / "withheaders-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("withheaders/__init__.py", "")
        zf.writestr("withheaders-1.0.data/headers/withheaders.h", "/* api */\n")
        zf.writestr("withheaders-1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: withheaders\nVersion: 1.0\n")  # fmt: skip
        zf.writestr("withheaders-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")  # fmt: skip
        zf.writestr("withheaders-1.0.dist-info/RECORD",
                    "withheaders/__init__.py,,\nwithheaders-1.0.data/headers/withheaders.h,,\n"
                    "withheaders-1.0.dist-info/RECORD,,\n")  # fmt: skip
    driver.install_wheels(venv_python, [wheel], "smoke")
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    header = tmp_path / "env" / "include" / "site" / version / "withheaders" / "withheaders.h"
    assert header.read_text() == "/* api */\n"
    base = Path(sysconfig.get_paths()["include"])  # the base Python's: nothing written there
    assert not (base / "withheaders").exists()
    assert not (base / "withheaders.h").exists()


@pytest.mark.parametrize("member", ["../../../escape.txt", "/tmp/devpi-foundry-escape.txt"])
def test_a_wheel_writing_outside_the_venv_fails_the_stage_and_writes_nothing(
    tmp_path: Path, venv_python: Path, member: str
) -> None:
    wheel = evil_wheel(tmp_path, member)
    with pytest.raises(driver.StepError) as failed:
        driver.install_wheels(venv_python, [wheel], "smoke")
    assert failed.value.stage == "smoke"
    assert "installing evil-1.0-py3-none-any.whl failed" in str(failed.value)
    assert list(tmp_path.rglob("escape.txt")) == []
    assert not Path("/tmp/devpi-foundry-escape.txt").exists()


def test_a_venv_without_an_interpreter_fails_with_the_stage(tmp_path: Path) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'no scheme here' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(driver.StepError, match="gave no install scheme: no scheme here"):
        driver.venv_scheme(broken, "deps")


def test_build_requirements_use_the_resolved_wheelhouse_or_pip_for_two_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, list[str]]] = []

    def by_installer(python: Path, wheels: list[Path], stage: str) -> None:
        calls.append(("installer", [w.name for w in wheels]))

    def by_pip(python: Path, house: Path, requirements: list[str], stage: str) -> None:
        calls.append(("pip", list(requirements)))

    monkeypatch.setattr(driver, "install_wheels", by_installer)
    monkeypatch.setattr(driver, "pip_install", by_pip)
    house = tmp_path / "house"
    make_wheel(house, Project("setuptools", "80.0"))
    make_wheel(house, Project("wheel", "0.45"))
    driver.install_requirements(tmp_path / "python", house, ["setuptools>=70", "wheel"])
    assert calls == [
        ("installer", ["setuptools-80.0-py3-none-any.whl", "wheel-0.45-py3-none-any.whl"])
    ]
    calls.clear()
    make_wheel(house, Project("setuptools", "81.0"))  # two versions: pip chooses
    driver.install_requirements(tmp_path / "python", house, ["setuptools>=70", "wheel"])
    assert calls == [("pip", ["setuptools>=70", "wheel"])]
    calls.clear()
    driver.install_requirements(tmp_path / "python", tmp_path / "empty", [])
    assert calls == [("pip", [])]  # nothing asked: pip_install does nothing for no requirements


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-07T15:55:25.312258363Z", "1796658925.312258363"),
        ("2026-12-07T16:55:25.312258363+01:00", "1796658925.312258363"),
        ("2026-12-07T15:55:25Z", "1796658925.000000000"),
        ("1970-01-01T00:01:40.5Z", "100.500000000"),
    ],
)
def test_daemon_times_become_event_filter_timestamps(text: str, expected: str) -> None:
    assert docker_timestamp(text) == expected


def test_an_unreadable_daemon_time_is_just_ahead_of_now() -> None:
    import time

    for text in ("", "garbage", "2026-13-45T99:99:99Z"):
        before = time.time()
        assert before < float(docker_timestamp(text)) <= time.time() + 1
