"""CycloneDX 1.6 output: valid against the strict schema, one component per release."""

from __future__ import annotations

import json
from typing import Any

from devpi_license.core.report import LicenseRow, Release, Resolution
from devpi_license.core.sbom import bom_json, build_bom, validation_error

RESOLUTION = Resolution(
    releases=(
        Release(name="App", version="1.0", requested=True, requires_dist=("lib-a", "lib-b>=2")),
        Release(name="lib_a", version="0.1"),
        Release(name="lib-b", version="2.0", requires_dist=("lib-a",)),
        Release(name="lib-c", version="3.0"),
    ),
    environment={"python_version": "3.11"},
)
ROWS = [
    LicenseRow(name="App", version="1.0", expression="MIT", state="known", verdict="allowed",
               refused=False, source="License-Expression"),
    LicenseRow(name="lib_a", version="0.1", expression="Apache-2.0 OR BSD-3-Clause",
               state="known", verdict="allowed", refused=False, source="Classifier"),
    LicenseRow(name="lib-b", version="2.0", state="unknown", verdict="unknown", refused=True,
               reason="license is unknown, refused by license_unknown 'deny' on a/b"),
    LicenseRow(name="lib-c", version="3.0", expression="LicenseRef-Proprietary", state="known",
               verdict="denied", refused=True, reason="denied by license_deny"),
]  # fmt: skip


def document() -> str:
    bom = build_bom(RESOLUTION, ROWS, specs=["app==1.0"], tool_version="0.1.0")
    return bom_json(bom)


def test_the_sbom_validates_against_cyclonedx_1_6() -> None:
    assert validation_error(document()) is None


def test_a_broken_document_fails_validation() -> None:
    data = json.loads(document())
    data["components"][0]["purl"] = 42
    error = validation_error(json.dumps(data))
    assert error is not None
    assert "42" in error
    data = json.loads(document())
    data["specVersion"] = "1.6"
    data["unexpected"] = True
    assert "'unexpected' was unexpected" in str(validation_error(json.dumps(data)))


def components() -> dict[str, Any]:
    return {c["purl"]: c for c in json.loads(document())["components"]}


def test_every_release_is_a_component_with_a_pypi_purl() -> None:
    assert sorted(components()) == [
        "pkg:pypi/app@1.0", "pkg:pypi/lib-a@0.1", "pkg:pypi/lib-b@2.0", "pkg:pypi/lib-c@3.0",
    ]  # fmt: skip
    assert components()["pkg:pypi/app@1.0"]["name"] == "App"


def test_licenses_are_spdx_ids_or_expressions_and_unknown_has_none() -> None:
    found = components()
    assert found["pkg:pypi/app@1.0"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert found["pkg:pypi/lib-a@0.1"]["licenses"] == [{"expression": "Apache-2.0 OR BSD-3-Clause"}]
    assert "licenses" not in found["pkg:pypi/lib-b@2.0"]


def test_verdicts_are_component_properties() -> None:
    props = {p["name"]: p["value"] for p in components()["pkg:pypi/lib-b@2.0"]["properties"]}
    assert props == {
        "devpi-foundry:license:state": "unknown",
        "devpi-foundry:license:verdict": "unknown",
        "devpi-foundry:license:reason": "license is unknown, refused by license_unknown 'deny' "
        "on a/b",
    }


def test_the_dependency_graph_starts_at_the_requested_specs() -> None:
    data = json.loads(document())
    assert data["metadata"]["component"]["name"] == "app==1.0"
    assert data["metadata"]["tools"]["components"][0]["name"] == "devpi-foundry"
    graph = {d["ref"]: d.get("dependsOn", []) for d in data["dependencies"]}
    assert graph == {
        "root-component": ["pkg:pypi/app@1.0"],
        "pkg:pypi/app@1.0": ["pkg:pypi/lib-a@0.1", "pkg:pypi/lib-b@2.0"],
        "pkg:pypi/lib-a@0.1": [],
        "pkg:pypi/lib-b@2.0": ["pkg:pypi/lib-a@0.1"],
        "pkg:pypi/lib-c@3.0": [],
    }


def test_without_requested_releases_the_root_depends_on_all() -> None:
    resolution = Resolution(releases=(Release(name="x", version="1"),))
    rows = [LicenseRow(name="x", version="1")]
    text = bom_json(build_bom(resolution, rows, specs=[], tool_version="0"))
    assert validation_error(text) is None
    data = json.loads(text)
    assert data["metadata"]["component"]["name"] == "closure"
    assert {"ref": "root-component", "dependsOn": ["pkg:pypi/x@1"]} in data["dependencies"]
