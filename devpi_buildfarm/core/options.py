"""Validation of the ``buildfarm_*`` index options (every problem at once)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from devpi_buildfarm.core import targets as tg

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_INDEX_NAME = re.compile(r"^[^/\s]+/[^/\s]+$")


def option_problems(
    index: str,
    index_type: str,
    options: Mapping[str, object],
    type_of: Callable[[str], str | None],
) -> list[str]:
    """Why ``options`` (an index's new configuration) cannot be stored.

    ``type_of(name)`` gives the type of an existing index (``None``: no such index).

    >>> types = {"team/prod": "stage", "root/pypi": "mirror"}.get
    >>> options = {"buildfarm_targets": ["cp2-*"], "buildfarm_upload_to": "root/pypi"}
    >>> option_problems("team/dev", "stage", options, types)  # doctest: +NORMALIZE_WHITESPACE
    ["buildfarm_targets on team/dev: 'cp2-*' matches no known target; known targets look like
      'cp38-manylinux_x86_64' or cp311-win_amd64",
     "buildfarm_upload_to on team/dev: 'root/pypi' is a mirror; built wheels need an index
      that takes uploads"]
    """
    problems: list[str] = []
    patterns = options.get("buildfarm_targets") or []
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list | tuple):
        problems.append(f"buildfarm_targets on {index}: expected a list of target patterns")
        patterns = []
    problems += tg.pattern_problems(list(patterns), f"buildfarm_targets on {index}")
    if patterns and index_type == "mirror":
        problems.append(
            f"buildfarm_targets on {index}: mirror indexes do not queue builds in this "
            "release; set it on an index that inherits from the mirror and use "
            "'devpi build request'"
        )
    upload_to = options.get("buildfarm_upload_to") or ""
    if not isinstance(upload_to, str):
        problems.append(f"buildfarm_upload_to on {index}: expected an index name (user/index)")
    elif upload_to and upload_to != index:
        where = f"buildfarm_upload_to on {index}"
        if not _INDEX_NAME.match(upload_to):
            problems.append(f"{where}: {upload_to!r} is not an index name (user/index)")
        elif (kind := type_of(upload_to)) is None:
            problems.append(f"{where}: index {upload_to!r} does not exist; create it first")
        elif kind == "mirror":
            problems.append(
                f"{where}: {upload_to!r} is a mirror; built wheels need an index that takes uploads"
            )
    return problems
