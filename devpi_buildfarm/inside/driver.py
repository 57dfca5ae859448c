"""The build driver: runs inside the sandbox, never on the host's side of it.

It reads one frame from stdin (:mod:`devpi_buildfarm.core.framing`: a manifest, the sdist,
a wheelhouse of build-requirement wheels the worker fetched from the job's index), and
does every step that runs package code or a tool on package output: unpack, a fresh venv,
install the build requirements (the worker's resolved wheels, offline), the PEP 517 hooks
(``pyproject_hooks``), ``auditwheel repair``; or, in ``smoke`` mode, install the wheel
(``installer``) and import its top-level names. It answers with one frame on stdout: the
wheel, a list of requirements the build still needs (the worker fetches them and starts a
fresh sandbox), or an error. Build output goes to stderr, the job's log; package processes
never get stdout. The worker trusts nothing it says: the answer is data, checked on the host.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import platform
import stat
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from pyproject_hooks import BuildBackendHookCaller

from devpi_buildfarm.core.buildreqs import RequirementRefused, check_requirements
from devpi_buildfarm.core.buildsystem import BuildSystemError, parse_build_system
from devpi_buildfarm.core.framing import copy_exactly, read_header, write_frame
from devpi_buildfarm.core.remote import repair_argv
from devpi_foundry_common.archive import Archive, ArchiveError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

JOB: Final = Path(os.environ.get("DEVPI_BUILDFARM_JOB", "/job"))


class StepError(Exception):
    """A failed step: the message names it."""

    def __init__(self, stage: str, message: str) -> None:
        self.stage = stage
        super().__init__(message)


def say(text: str) -> None:
    sys.stderr.write(f"devpi-buildfarm: {text}\n")
    sys.stderr.flush()


def run(
    argv: Sequence[str], stage: str, *, cwd: Path = JOB, env: Mapping[str, str] | None = None
) -> None:
    """A command with its output into the log; package code never sees our stdout."""
    if len(COMMANDS) < MAX_COMMANDS:  # for the build record (the log has them all)
        COMMANDS.append(" ".join(argv)[:1000])
    sys.stderr.write("+ " + " ".join(argv) + "\n")
    sys.stderr.flush()
    last: collections.deque[bytes] = collections.deque(maxlen=3)
    proc = subprocess.Popen(list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            env=dict(env if env is not None else os.environ))  # fmt: skip
    pump = threading.Thread(target=_copy, args=(proc.stdout, last), daemon=True)
    pump.start()
    proc.wait()
    # children it left behind may hold the pipe open: the command is done when it exits
    pump.join(timeout=2)
    if proc.returncode != 0:
        words = [w if len(w) < 80 else w[:60].replace("\n", " ") + "..." for w in argv[:4]]  # noqa: PLR2004
        shown = " ".join(words) + (" ..." if len(argv) > 4 else "")  # noqa: PLR2004
        reason = _reason(last)
        raise StepError(stage, f"{shown!r} exited with {proc.returncode}{reason}")


def _copy(stream: IO[bytes] | None, tail: collections.deque[bytes]) -> None:
    """Output into the log as it comes (in chunks: a line may be endless), keeping the last
    few kilobytes for the error message."""
    assert stream is not None  # noqa: S101 - a pipe
    read = getattr(stream, "read1", stream.read)
    while chunk := read(65536):
        sys.stderr.buffer.write(chunk)
        sys.stderr.buffer.flush()
        tail.append(chunk[-4096:])


def _reason(tail: collections.deque[bytes]) -> str:
    """The last error-looking line of a failed command (a traceback's exception)."""
    text = b"".join(tail)[-8192:].decode("utf-8", "replace")
    for raw in reversed(text.splitlines()):
        line = raw.strip()
        if "Error" in line or "error:" in line.lower() or "Exception" in line:
            return f": {line[:300]}"
    return ""


def receive(stream: IO[bytes]) -> tuple[dict[str, Any], dict[str, Path]]:
    """The manifest and the files of the worker's frame, written under ``JOB/in``."""
    header = read_header(stream)
    files = {}
    for name, size in header.files:
        path = JOB / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as out:
            copy_exactly(stream, out, size, name=name)
        files[name] = path
    return header.meta, files


#: where the answer goes: stdout (bubblewrap), or a file the worker copies out (a container)
ANSWER: list[IO[bytes]] = []


def answer(meta: dict[str, Any], wheel: Path | None = None) -> None:
    out = ANSWER[0] if ANSWER else sys.stdout.buffer
    if wheel is None:
        write_frame(out, meta, [])
        return
    with wheel.open("rb") as stream:
        write_frame(out, meta, [(f"wheel/{wheel.name}", stream, wheel.stat().st_size)])


#: the commands this session ran, for the build record
COMMANDS: list[str] = []
MAX_COMMANDS: Final = 50


def tool_versions(python: Path) -> dict[str, str]:
    """Versions of what built the wheel: the target's CPython (its venv's ``pyvenv.cfg``),
    the driver's, and the tools it ran (as data: nothing of the build is imported)."""
    found = {"driver-python": sys.version.split()[0]}
    config = python.parent.parent / "pyvenv.cfg"
    with contextlib.suppress(OSError):
        for line in config.read_text("utf-8", "replace").splitlines()[:50]:
            key, _, value = line.partition("=")
            if key.strip() in ("version", "version_info"):
                found["python"] = value.strip()[:40]
    for name in ("pip", "auditwheel", "pyproject_hooks", "packaging"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def tool(module: str) -> list[str]:
    """How to run one of the driver's tools: from the toolbox where the worker sent one
    (``DEVPI_BUILDFARM_TOOLS``: its ``run.py``), else from this interpreter's packages."""
    runner = os.environ.get("DEVPI_BUILDFARM_TOOLS")
    return [sys.executable, "-I", runner, module] if runner else [sys.executable, "-m", module]


def venv(path: Path, python: object = None) -> Path:
    """A fresh venv of ``python`` (the target's interpreter; default: this one's)."""
    base = str(python) if python else getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", "--without-pip", str(path)], "deps")
    return path / "bin" / "python"


def pip_install(
    python: Path, wheelhouse: Path, args: Sequence[str], stage: str, options: Sequence[str] = ()
) -> None:
    """pip (this interpreter's, into ``python``'s venv) from the wheelhouse only."""
    if not args:
        return
    run([*tool("pip"), "--python", str(python), "install", "--isolated",
         "--no-index", "--find-links", str(wheelhouse), "--only-binary", ":all:",
         "--no-cache-dir", "--disable-pip-version-check", *options, "--", *args],
        stage)  # fmt: skip


def install_requirements(python: Path, wheelhouse: Path, requirements: Sequence[str]) -> None:
    """The build requirements into ``python``'s venv. The wheelhouse is the closure the
    worker resolved for them (one ``pip download``): its wheels are installed as they are,
    without running a resolver again; only where it holds two versions of one project
    (which the worker does not make) does pip choose among them."""
    wheels = sorted(wheelhouse.glob("*.whl"))
    try:
        names = [parse_wheel_filename(wheel.name)[0] for wheel in wheels]
    except InvalidWheelFilename:
        names = []
    if requirements and len(set(names)) == len(wheels):
        install_wheels(python, wheels, "deps")
    else:
        pip_install(python, wheelhouse, requirements, "deps")


def install_wheels(python: Path, wheels: Sequence[Path], stage: str) -> None:
    """Install exactly ``wheels`` into ``python``'s venv (pypa/installer, run by this
    driver: nothing of the wheels runs); a wheel it cannot install fails ``stage``."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    scheme = venv_scheme(python, stage)
    kind = "posix"
    if os.name == "nt":  # the launcher of the venv's architecture (scripts are not run)
        arm = platform.machine().lower() in ("arm64", "aarch64")
        kind = "win-arm64" if arm else "win-amd64" if sys.maxsize > 2**32 else "win-ia32"
    for wheel in wheels:
        headers = str(Path(scheme["headers"]) / wheel.name.split("-", 1)[0])
        destination = SchemeDictionaryDestination({**scheme, "headers": headers},
                                                  interpreter=str(python),
                                                  script_kind=kind,  # type: ignore[arg-type]
                                                  bytecode_optimization_levels=())  # fmt: skip
        say(f"{stage}: installing {wheel.name}")
        if len(COMMANDS) < MAX_COMMANDS:
            COMMANDS.append(f"installer {wheel.name}")
        try:
            with WheelFile.open(wheel) as source:
                install(source, destination, {"INSTALLER": b"devpi-buildfarm\n"})
        except Exception as exc:  # noqa: BLE001 - the wheel's fault, whatever installer raised
            raise StepError(stage, f"installing {wheel.name} failed: {exc!r}"[:2000]) from None


#: the install scheme of a venv's interpreter (run before anything is installed in it)
#: (``headers`` as pip's in a venv: sysconfig's ``include`` is the base Python's own,
#: outside the venv and read-only in a sandbox; each wheel's headers go into a folder
#: named after its project, see install_wheels)
SCHEME_OF: Final = (
    "import json, os, sys, sysconfig\n"
    "p = sysconfig.get_paths()\n"
    "s = {k: p[k] for k in ('purelib', 'platlib', 'scripts', 'data')}\n"
    "v = 'python%d.%d' % sys.version_info[:2]\n"
    "s['headers'] = os.path.join(sys.prefix, 'include', 'site', v)\n"
    "print(json.dumps(s))\n"
)


def venv_scheme(python: Path, stage: str) -> dict[str, str]:
    """Where ``python``'s venv installs each part of a wheel."""
    done = subprocess.run([str(python), "-I", "-c", SCHEME_OF], capture_output=True,
                          text=True, check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        scheme = json.loads(done.stdout)
    except ValueError:
        scheme = None
    if done.returncode != 0 or not isinstance(scheme, dict):
        msg = f"the venv's interpreter gave no install scheme: {done.stderr[-300:]}"
        raise StepError(stage, msg)
    return {str(k): str(v) for k, v in scheme.items()}


def _runner(cmd: Sequence[str], cwd: str | None = None,
            extra_environ: Mapping[str, str] | None = None) -> None:  # fmt: skip
    run(cmd, "build", cwd=Path(cwd or JOB), env={**os.environ, **(extra_environ or {})})


def single_file(folder: Path, stage: str) -> Path:
    """The one regular file ``folder`` holds (never a link, never two)."""
    found = sorted(folder.iterdir()) if folder.is_dir() else []
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "nothing"
        raise StepError(stage, f"expected one wheel in {folder.name}/, found {names}")
    mode = found[0].lstat().st_mode
    if not stat.S_ISREG(mode) or not found[0].name.endswith(".whl"):
        raise StepError(stage, f"{found[0].name!r} is not a regular .whl file")
    return found[0]


def build(meta: dict[str, Any], files: dict[str, Path]) -> None:
    """Unpack, read the build system; when the worker did not fetch its requirements yet
    (``known``), answer with ``pyproject.toml``'s text; else build and repair."""
    (sdist,) = [path for name, path in files.items() if name.startswith("sdist/")]
    wheelhouse = JOB / "in" / "wheelhouse"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    try:
        with sdist.open("rb") as stream, Archive(stream, sdist.name) as archive:
            top = archive.top_level()
            archive.extract(JOB / "src")
    except ArchiveError as exc:
        raise StepError("deps", str(exc)) from None
    source = JOB / "src" / top
    pyproject = source / "pyproject.toml"
    try:
        text = pyproject.read_text("utf-8") if pyproject.is_file() else ""
        system = parse_build_system(text)
    except (BuildSystemError, RequirementRefused, UnicodeDecodeError) as exc:
        raise StepError("deps", str(exc)) from None
    known = [str(r) for r in meta.get("known", [])]
    if not set(system.requires) <= set(known):  # the worker checks and fetches them first
        answer({"pyproject": text})
        return
    python = venv(JOB / "env", meta.get("python"))
    known = [*system.requires, *meta["extra"]]
    install_requirements(python, wheelhouse, known)
    hooks = BuildBackendHookCaller(str(source), system.backend,
                                   backend_path=list(system.backend_path or []) or None,
                                   runner=_runner, python_executable=str(python))  # fmt: skip
    try:
        reported = check_requirements(hooks.get_requires_for_build_wheel(),
                                      "get_requires_for_build_wheel")  # fmt: skip
        missing = [r for r in reported if r not in known]
        if missing:
            answer({"need": missing})
            return
        dist = JOB / "dist"
        dist.mkdir()
        name = str(hooks.build_wheel(str(dist)))
    except (RequirementRefused, StepError):
        raise
    except Exception as exc:  # noqa: BLE001 - the backend's failure, whatever it raised
        raise StepError("build", f"build backend failed: {exc!r}"[:2000]) from None
    wheel = single_file(dist, "build")
    if wheel.name != name:
        raise StepError("build", f"the build backend reported {name!r}, wrote {wheel.name!r}")
    final = repair(meta, wheel)
    answer({"wheel": final.name, "repaired": final != wheel, "commands": COMMANDS,
            "tools": tool_versions(python)}, final)  # fmt: skip


def repair(meta: dict[str, Any], wheel: Path) -> Path:
    """Repair a platform wheel (here, inside the sandbox) with the tool of the build host's
    family (``meta["family"]``: auditwheel on Linux, delocate on macOS, delvewheel on
    Windows); a pure wheel, or a Linux wheel without a policy, is left as it is."""
    family = str(meta.get("family") or "linux")
    platform_tags = wheel.name.removesuffix(".whl").rsplit("-", 1)[-1].split(".")
    if platform_tags == ["any"] or (
        family == "linux"
        and (not meta.get("plat") or not any(t.startswith("linux_") for t in platform_tags))
    ):
        say("repair: not a platform wheel to repair, nothing to do")
        return wheel
    out = JOB / "repaired"
    argv = repair_argv(family, str(meta.get("plat") or "") or None, str(wheel), str(out))
    if argv is None:
        return wheel
    env = dict(os.environ)
    runner = os.environ.get("DEVPI_BUILDFARM_TOOLS")
    if runner:  # the toolbox's patchelf first: an image's may be too old for auditwheel
        env["PATH"] = f"{Path(runner).parent / 'bin'}:{env.get('PATH', '')}"
    run([*tool(argv[0]), *argv[1:]], "repair", env=env)
    return single_file(out, "repair")


def smoke(meta: dict[str, Any], files: dict[str, Path]) -> None:
    (wheel,) = [path for name, path in files.items() if name.startswith("wheel/")]
    wheelhouse = JOB / "in" / "wheelhouse"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    python = venv(JOB / "smokeenv", meta.get("python"))
    # the worker fetched the wheel's whole dependency closure: install exactly that, with
    # pypa/installer (no resolver to run: a fraction of pip's time), compiling nothing (a
    # throw-away venv that imports a few top-level modules)
    closure = [wheel, *sorted(wheelhouse.glob("*.whl"))]
    install_wheels(python, closure, "smoke")
    names = [str(n) for n in meta.get("import", [])
             if all(part.isidentifier() for part in str(n).split("."))]  # fmt: skip
    if names:  # each module by name: a failure names the module and its error
        run([str(python), "-c", IMPORT_EACH, *names], "smoke")
    else:
        say("smoke: the wheel has no importable packages or modules")
    answer({"ok": True, "commands": COMMANDS})


#: imports each module named on the command line, each failure naming the module and its
#: error; one that needs a module which neither the wheel nor its dependencies provide (a
#: test package's test tools, an undeclared circular dependency) is reported and skipped:
#: that is the package's metadata, not the build (a broken build fails with ImportError)
IMPORT_EACH: Final = (
    "import importlib, sys\n"
    "names = sys.argv[1:]\n"
    "done = 0\n"
    "for name in names:\n"
    "    try:\n"
    "        importlib.import_module(name)\n"
    "    except ModuleNotFoundError as exc:\n"
    "        if exc.name and exc.name not in names:\n"
    "            print(f'import {name}: skipped: it needs {exc.name}, which neither the wheel '\n"
    "                  'nor its dependencies provide'[:500])\n"
    "            continue\n"
    "        print(f'smoke failed: import {name}: ModuleNotFoundError: {exc}'[:500])\n"
    "        sys.exit(1)\n"
    "    except BaseException as exc:\n"
    "        print(f'smoke failed: import {name}: {type(exc).__name__}: {exc}'[:500])\n"
    "        sys.exit(1)\n"
    "    done += 1\n"
    "    print(f'import {name}: ok')\n"
    "if not done:\n"
    "    print('smoke: nothing imports without modules from outside the wheel; installed')\n"
)


def main(argv: Sequence[str] = ()) -> int:
    """``--in FILE --out FILE``: the frame from a file and the answer into one (where the
    worker copies files in and out, as with containers); else stdin and stdout."""
    args = dict(zip(argv[::2], argv[1::2], strict=False))
    for folder in ("tmp", "home"):
        (JOB / folder).mkdir(parents=True, exist_ok=True)
    if "--out" in args:
        Path(args["--out"]).parent.mkdir(parents=True, exist_ok=True)
        ANSWER.append(Path(args["--out"]).open("xb"))  # noqa: SIM115 - closed below
    try:
        return _serve(args)
    finally:
        for stream in ANSWER:
            stream.close()


def _serve(args: Mapping[str, str]) -> int:
    try:
        if "--in" in args:
            with Path(args["--in"]).open("rb") as stream:
                meta, files = receive(stream)
        else:
            meta, files = receive(sys.stdin.buffer)
        if meta.get("mode") == "smoke":
            smoke(meta, files)
            return 0
        build(meta, files)
    except StepError as exc:
        say(f"{exc.stage}: {exc}")
        answer({"error": str(exc), "stage": exc.stage})
        return 1
    except RequirementRefused as exc:
        say(f"deps: {exc}")
        answer({"error": str(exc), "stage": "deps"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
