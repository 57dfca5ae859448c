"""Cross-architecture Linux wheels from this x86_64 host, with the docker backend and with
the local backend on the images' unpacked root filesystems (bubblewrap):
``cp311-manylinux_aarch64`` in an arm64 image under QEMU user emulation (binfmt_misc) and
``cp311-manylinux_i686`` in an i386 image natively (the kernel's 32-bit support). The
repaired wheel is installed and its extension imported by a Python of that architecture
(a fresh container of the same image, without network); the jobs record their emulation
and stage timings."""

from __future__ import annotations

import io
import os
import sys
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from harness import docker
from harness.api import DevpiApi
from harness.buildfarm import seed_tools, target_rows, upload_and_build
from harness.clients import DevpiClient
from harness.dists import Project, make_sdist
from harness.server import DevpiServer
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Iterator

BINDIR = Path(sys.executable).parent
PASSWORD = "bob-pw"  # noqa: S105 - a throw-away test user
ARM64: Final = "devpi-foundry/builder:bookworm-arm64"
I386: Final = "devpi-foundry/builder:bookworm-i386"
TARGETS: Final = {"cp311-manylinux_aarch64": (ARM64, "aarch64"),
                  "cp311-manylinux_i686": (I386, "i686")}  # fmt: skip
ROOTFS: Final = Path(os.environ.get("FOUNDRY_ROOTFS_DIR", "/var/cache/devpi-foundry/rootfs"))
BUILDERS: Final = """\
[builder.arm64]
backend = "{backend}"
{arm64}
targets = ["cp311-manylinux_aarch64"]
manylinux = "manylinux_2_28"
timeout = 1500

[builder.i386]
backend = "{backend}"
{i386}
targets = ["cp311-manylinux_i686"]
manylinux = "manylinux_2_17"
timeout = 600
"""


def builders_text(backend: str) -> str:
    """Docker builders of the two images, or local builders of their unpacked rootfs."""
    if backend == "docker":
        return BUILDERS.format(backend=backend, arm64=f'image = "{ARM64}"\ncpus = 2',
                               i386=f'image = "{I386}"')  # fmt: skip
    return BUILDERS.format(backend=backend, arm64=f'rootfs = "{ROOTFS / "bookworm-arm64"}"',
                           i386=f'rootfs = "{ROOTFS / "bookworm-i386"}"')  # fmt: skip


def binfmt_problem() -> str | None:
    handler = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not handler.exists():
        return "no binfmt_misc handler for aarch64 (qemu-user-static; .ci/run registers it)"
    if "F" not in handler.read_text().split("flags:")[1].split("\n")[0]:
        return "the aarch64 handler lacks the F flag (containers cannot open the interpreter)"
    return None


@pytest.fixture(scope="module", params=["docker", "local"])
def farm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DevpiServer, DevpiApi]]:
    for image in (ARM64, I386):  # the docker variant builds in them, both check in them
        require(docker.problem(image), f"the Docker daemon with the image {image}")
    require(binfmt_problem(), "QEMU user emulation for aarch64")
    if request.param == "local":
        for name in ("bookworm-arm64", "bookworm-i386"):
            problem = None if (ROOTFS / name / "usr").is_dir() else "not unpacked"
            require(problem, f"the rootfs {ROOTFS / name} (make-image --unpack)")
    work = tmp_path_factory.mktemp(f"crossarch-{request.param}")
    (work / "builders.toml").write_text(builders_text(str(request.param)))
    args = ("--buildfarm-builders", str(work / "builders.toml"), "--buildfarm-workers", "2",
            "--buildfarm-max-attempts", "1")  # fmt: skip
    server = DevpiServer(work / "serverdir", BINDIR, args=args).start()
    try:
        seed_tools(server, work)
        api = DevpiApi(server.url)
        api.create_user("bob", PASSWORD)
        api = api.login("bob", PASSWORD)
        api.create_index("bob/dev", bases=["root/tools"], buildfarm_targets=list(TARGETS))
        yield server, api
    finally:
        server.stop()


def import_in_container(image: str, wheel: bytes, name: str, module: str) -> str:
    """Install ``wheel`` in a fresh venv of a container of ``image`` (no network) and call
    its extension; what it printed."""
    client = docker.client()
    container = client.containers.create(image, ["sh", "-c", (
        f"python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --no-index /tmp/{name} && "
        f"/tmp/v/bin/python -c 'import platform, {module}._speedups as s; "
        "print(s.answer(), platform.machine())'")], network_mode="none")  # fmt: skip
    try:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(wheel)
            tar.addfile(info, io.BytesIO(wheel))
        container.put_archive("/tmp", data.getvalue())
        container.start()
        status = container.wait(timeout=900)
        out = container.logs().decode(errors="replace")
        assert status["StatusCode"] == 0, out
        return out.strip().splitlines()[-1]
    finally:
        container.remove(force=True)


def test_targets_say_native_and_emulated(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, _ = farm
    rows = target_rows(DevpiClient(tmp_path / "c").use_login(server.url, "bob", PASSWORD),
                       "bob/dev")  # fmt: skip
    assert rows["cp311-manylinux_aarch64"].endswith(
        "emulated (aarch64 on x86_64, binfmt_misc)"), rows  # fmt: skip
    assert rows["cp311-manylinux_i686"].endswith("native"), rows


def test_aarch64_and_i686_wheels_build_install_and_import(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    project = Project("cross-ext", "1.0", c_extension=True)
    devpi = DevpiClient(tmp_path / "client").use_login(server.url, "bob", PASSWORD)
    jobs = upload_and_build(devpi, api, "bob/dev", make_sdist(tmp_path, project), project.name,
                            timeout=1500)  # fmt: skip
    for target, (image, machine) in TARGETS.items():
        job: dict[str, Any] = jobs[target]
        assert job["state"] == "succeeded", job
        assert job["wheel"].endswith(f"_{machine}.whl"), job["wheel"]
        assert "-cp311-cp311-manylinux" in job["wheel"]
        expected = "emulated (aarch64 on x86_64" if machine == "aarch64" else "native"
        assert expected in job["isolation"], job["isolation"]
        assert set(job["timings"]) >= {"deps", "build", "repair", "smoke", "publish"}
        links = api.ok("GET", f"bob/dev/{project.name}/1.0")["+links"]
        (url,) = [link["href"] for link in links if link["href"].endswith(job["wheel"])]
        wheel = api.request("GET", url, headers={"Accept": "*/*"}).body
        answer, seen = import_in_container(image, wheel, job["wheel"], project.module).split()
        assert answer == "42"
        assert seen == ("aarch64" if machine == "aarch64" else "x86_64")  # i386 userland
