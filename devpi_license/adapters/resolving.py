"""Resolve a closure with pip's own resolver against one index, isolated from pip's config.

``python -m pip install --dry-run --ignore-installed --report FILE`` installs nothing and
ignores what the client's environment has installed; pip's report then names every release
of the closure. Only the given index is used: ``--isolated`` drops ``PIP_*`` variables and
the user configuration, ``PIP_CONFIG_FILE=os.devnull`` every configuration file (extra
indexes and find-links there would otherwise leak other sources into the closure).

Like ``pip install``, resolving may prepare the metadata of sdists, which runs their build
backend; a binary-only target (``--python-version``/``--platform``) never does.

An index on plain http (or one devpi was told to trust) is passed as ``--trusted-host``, as
``devpi use --set-cfg`` does: pip caches responses only from https or trusted hosts, and
without its cache every report downloads every release's metadata and wheel again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: pip may build sdists to learn their metadata; bound the whole resolve.
PIP_TIMEOUT_SECONDS: Final = 900.0


@dataclass(frozen=True, slots=True)
class PipIndex:
    """The one index pip may use, and the host it may cache from over plain http."""

    simple_url: str
    trusted_host: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PipRun:
    """pip's exit status, its report (``None`` on failure) and what it printed on stderr."""

    returncode: int
    report: Any
    stderr: str

    @property
    def error(self) -> str:
        """pip's error lines, else the tail of what it printed."""
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR:")]
        return "\n".join(errors or lines[-20:]) or f"pip exited with status {self.returncode}"


def pip_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without pip's variables, loading no pip configuration file."""
    env = {key: value for key, value in environ.items() if not key.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def pip_command(
    index: PipIndex, specs: Sequence[str], target_args: Sequence[str], workdir: Path
) -> list[str]:
    """The pip command line that resolves ``specs`` from ``index`` only.

    pip before 23.3 accepts ``--platform``/``--python-version`` only with ``--target``,
    even for a dry run; an empty directory in ``workdir`` serves (nothing is installed).
    """
    target_dir = ["--target", str(workdir / "target")] if target_args else []
    trusted = ["--trusted-host", index.trusted_host] if index.trusted_host else []
    return [
        sys.executable, "-m", "pip", "--isolated", "--no-input", "--disable-pip-version-check",
        "install", "--dry-run", "--ignore-installed", "--quiet",
        "--report", str(workdir / "report.json"), "--index-url", index.simple_url,
        *trusted, *target_dir, *target_args, "--", *specs,
    ]  # fmt: skip


def resolve(
    index: PipIndex,
    specs: Sequence[str],
    target_args: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = PIP_TIMEOUT_SECONDS,
) -> PipRun:
    """Run pip's resolver; a failed or timed-out resolve is a :class:`PipRun` too."""
    env = pip_environment(os.environ if environ is None else environ)
    with TemporaryDirectory(prefix="devpi-license-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = pip_command(index, specs, target_args, Path(tmp))
        try:
            res = subprocess.run(  # noqa: S603 - our own interpreter, arguments as a list
                cmd, env=env, capture_output=True, text=True, check=False, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            msg = f"pip did not finish resolving within {timeout:.0f} s"
            return PipRun(returncode=-1, report=None, stderr=f"ERROR: {msg}")
        except OSError as exc:
            return PipRun(returncode=-1, report=None, stderr=f"ERROR: cannot run pip: {exc}")
        data = None
        if res.returncode == 0:
            try:
                data = json.loads(report.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                msg = f"ERROR: pip wrote no readable report: {exc}"
                return PipRun(returncode=res.returncode or 1, report=None, stderr=msg)
    return PipRun(returncode=res.returncode, report=data, stderr=res.stderr)
