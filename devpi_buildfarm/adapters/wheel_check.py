"""What a built wheel must be before anyone publishes it, read with the bounded reader.

Its file name must fit the job (project, version, a tag the target installs) and its
METADATA must name the same release. The worker checks before publishing and the server
checks again (a remote worker is not trusted either). No devpi or pyramid import: this runs
on the worker's side too.
"""

from __future__ import annotations

import hashlib
from email.parser import BytesParser
from email.policy import compat32
from typing import TYPE_CHECKING, Final

from devpi_buildfarm.core import plan, wheels
from devpi_buildfarm.errors import BuildError
from devpi_foundry_common.archive import ArchiveError, wheel_metadata

if TYPE_CHECKING:
    from pathlib import Path

    from devpi_buildfarm.core.jobs import Job

#: form fields sent with the wheel, from its METADATA (as twine sends them)
FIELDS: Final = {"Summary": "summary", "Requires-Python": "requires_python",
                 "License": "license", "License-Expression": "license_expression",
                 "Home-page": "home_page", "Author": "author"}  # fmt: skip
MULTI: Final = {"Requires-Dist": "requires_dist", "Classifier": "classifiers"}


def verify(job: Job, wheel: Path) -> str:
    """The wheel's sha256 once it fits its job; :class:`BuildError` otherwise."""
    spec = job.spec
    problems = plan.result_problems(wheel.name, target=spec.target, policy=spec.policy,
                                    project=spec.project, version=spec.version)  # fmt: skip
    try:
        with wheel.open("rb") as stream:
            name, version = wheels.name_and_version(stream, wheel.name)
    except ArchiveError as exc:
        raise BuildError(str(exc), stage="verify", permanent=True) from None
    if not plan.same_release(name, version, spec.project, spec.version):
        problems.append(
            f"METADATA says {name} {version}, the sdist is {spec.project} {spec.version}"
        )
    if problems:
        raise BuildError("; ".join(problems), stage="verify", permanent=True)
    digest = hashlib.sha256()
    with wheel.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def form_fields(job: Job, wheel: Path) -> list[tuple[str, str]]:
    with wheel.open("rb") as stream:
        raw = BytesParser(policy=compat32).parsebytes(wheel_metadata(stream, wheel.name))
    fields = [("name", job.spec.project), ("version", job.spec.version),
              ("metadata_version", str(raw.get("Metadata-Version", "2.1")))]  # fmt: skip
    fields += [(key, str(raw[header])) for header, key in FIELDS.items() if raw.get(header)]
    fields += [(key, str(v)) for header, key in MULTI.items() for v in raw.get_all(header) or []]
    return [(k, v.replace("\r", " ").replace("\n", " ")) for k, v in fields]
