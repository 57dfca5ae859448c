"""The users and indexes of ``examples/demo.toml``, applied by ``tox -e serve`` (serve.py).

They are applied once, on the first start of a serverdir: what exists already is left
alone, and a record of what was created is written to ``<serverdir>/examples-applied.json``.
Later starts change nothing, so the user's own changes to those users and indexes win;
``--reapply-examples`` creates what is missing and sets the example options again.
"""

from __future__ import annotations

import base64
import json
import platform
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

#: placeholder in demo.toml for this machine's build target (cp311-manylinux_x86_64, ...)
HOST_TARGET = "{host_target}"
RECORD = "examples-applied.json"


def request(url: str, method: str = "GET", data: Any = None, auth: str | None = None) -> Any:
    """One JSON API call to our own server; returns devpi's ``result``."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if auth:
        headers["X-Devpi-Auth"] = auth
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - our own server
        return json.load(resp).get("result")


def login(url: str, user: str, password: str) -> str:
    result = request(f"{url}/+login", "POST", {"user": user, "password": password})
    return base64.b64encode(f"{user}:{result['password']}".encode()).decode()


def host_target() -> str | None:
    """This machine's build target, or None where the build farm has none (not Linux)."""
    from devpi_buildfarm.core.targets import host_target as target_of

    try:
        return target_of(sys.version_info[:2], platform.machine(), platform.libc_ver())[0]
    except ValueError:
        return None


def resolve(setup: dict[str, Any], mirror_url: str | None) -> dict[str, dict[str, Any]]:
    """The indexes of ``setup`` with ``{host_target}`` and ``--mirror-url`` filled in."""
    target = host_target()
    indexes = {}
    for name, wanted in setup.get("indexes", {}).items():
        cfg = dict(wanted)
        if mirror_url and cfg.get("type") == "mirror":
            cfg["mirror_url"] = mirror_url
        if HOST_TARGET in cfg.get("buildfarm_targets", ()):
            targets = [t for t in cfg["buildfarm_targets"] if t != HOST_TARGET]
            cfg["buildfarm_targets"] = [*targets, target] if target else targets
        indexes[name] = cfg
    return indexes


@dataclass
class Applied:
    """What one run of :func:`apply` did, for the banner."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def apply(url: str, setup: dict[str, Any], mirror_url: str | None, *, update: bool) -> Applied:
    """Create the users and indexes of ``setup`` that do not exist; with ``update`` also
    set the example options on those that do (``--reapply-examples``)."""
    done = Applied()
    root = login(url, "root", "")
    users = setup.get("users", {})
    for name, cfg in users.items():
        try:
            request(f"{url}/{name}", auth=root)
        except urllib.error.HTTPError:
            request(f"{url}/{name}", "PUT", cfg, auth=root)
            done.created.append(f"user {name}")
    for name, cfg in resolve(setup, mirror_url).items():
        user = name.split("/")[0]
        auth = root if user == "root" else login(url, user, users[user]["password"])
        try:
            current = request(f"{url}/{name}?no_projects=", auth=auth)
        except urllib.error.HTTPError:
            request(f"{url}/{name}", "PUT", cfg, auth=auth)
            done.created.append(f"index {name}")
            continue
        if not update:
            done.kept.append(f"index {name}")
            continue
        current.pop("projects", None)
        request(f"{url}/{name}", "PATCH", {**current, **cfg}, auth=auth)
        done.updated.append(f"index {name}")
    return done


def read_record(serverdir: Path) -> dict[str, Any] | None:
    """The record of the first start's examples, or None before it."""
    path = serverdir / RECORD
    if not path.exists():
        return None
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return record


def write_record(serverdir: Path, setup_path: Path, done: Applied) -> None:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    record = {"applied": when, "setup": str(setup_path), "created": done.created}
    (serverdir / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def later_start_note(record: dict[str, Any], setup_path: Path) -> str:
    """What a start after the first says about the examples it did not apply."""
    return (
        f"{setup_path.name} was applied on the first start ({record['applied']}); this start "
        "changes no user or index, so your own changes stay. --reapply-examples creates "
        "what is missing and sets the example options again."
    )
