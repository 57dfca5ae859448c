"""A CycloneDX 1.6 SBOM of a resolved closure, made with cyclonedx-python-lib.

Every resolved release is a component (purl ``pkg:pypi/name@version``) with its license as
an SPDX id or expression (unknown licenses have none) and the index's verdict as
properties. The requested SPECs form the BOM's own (metadata) component; the dependency
graph follows the releases' ``Requires-Dist`` as pip's report gives them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from packaging.utils import canonicalize_name

from devpi_license.core.report import dependency_graph

if TYPE_CHECKING:
    from collections.abc import Sequence

    from devpi_license.core.report import LicenseRow, Resolution

#: Namespace of our component properties (CycloneDX property taxonomy: vendor prefix).
PROPERTY_PREFIX: Final = "devpi-foundry:license"
ROOT_REF: Final = "root-component"
TOOL: Final = "devpi-foundry"


def _component(row: LicenseRow) -> Component:
    purl = PackageURL("pypi", name=canonicalize_name(row.name), version=row.version)
    licenses = [LicenseFactory().make_from_string(row.expression)] if row.expression else []
    values = {"state": row.state, "source": row.source, "verdict": row.verdict}
    values["reason"] = row.reason
    properties = [
        Property(name=f"{PROPERTY_PREFIX}:{key}", value=value)
        for key, value in values.items()
        if value
    ]
    return Component(
        name=row.name,
        version=row.version,
        purl=purl,
        bom_ref=purl.to_string(),
        licenses=licenses,
        properties=properties,
    )


def build_bom(
    resolution: Resolution, rows: Sequence[LicenseRow], *, specs: Sequence[str], tool_version: str
) -> Bom:
    """The BOM of ``resolution`` with the licenses and verdicts of ``rows``.

    ``specs`` name the root component (what was asked for); ``tool_version`` is the
    version of devpi-foundry, named as the BOM's generator.
    """
    components = {canonicalize_name(row.name): _component(row) for row in rows}
    root = Component(name=", ".join(specs) or "closure", type=ComponentType.APPLICATION,
                     bom_ref=ROOT_REF)  # fmt: skip
    bom = Bom(components=components.values())
    bom.metadata.component = root
    bom.metadata.tools.components.add(
        Component(name=TOOL, version=tool_version, type=ComponentType.APPLICATION)
    )
    requested = [
        components[r.key] for r in resolution.releases if r.requested and r.key in components
    ]
    bom.register_dependency(root, requested or list(components.values()))
    for name, needs in dependency_graph(resolution).items():
        if name in components:
            bom.register_dependency(
                components[name], [components[n] for n in needs if n in components]
            )
    return bom


def bom_json(bom: Bom) -> str:
    """The BOM as CycloneDX 1.6 JSON."""
    return JsonV1Dot6(bom).output_as_string(indent=2)


def validation_error(document: str) -> str | None:
    """Why ``document`` is not valid CycloneDX 1.6 JSON (strict schema), or ``None``."""
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    return None if error is None else str(error).split("\n", 1)[0]
