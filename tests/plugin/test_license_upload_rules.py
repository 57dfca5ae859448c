"""License rules on uploads (devpi_license as a devpi_policy plugin, loaded from its entry
point): the license is read from the uploaded file; refusals name rule and index."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from devpi_policy.adapters.plugins import plugin_manager

pytestmark = pytest.mark.notransaction


def wheel(name: str, version: str, headers: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        metadata = f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n{headers}\n"
        zf.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
        zf.writestr(f"{name}/__init__.py", "")
    return buf.getvalue()


def upload(mapp: Any, name: str, version: str, headers: str, code: int | None = 200) -> Any:
    data = wheel(name, version, headers)
    return mapp.upload_file_pypi(f"{name}-{version}-py3-none-any.whl", data, name, version,
                                 code=code)  # fmt: skip


def test_the_plugin_is_loaded_from_its_entry_point(xom: Any) -> None:
    names = [name for name, _ in plugin_manager(xom).list_name_plugin()]
    assert "devpi-license" in names


def test_denied_license_is_refused_with_the_reason(mapp: Any) -> None:
    api = mapp.create_and_use(indexconfig={"license_deny": ["AGPL-*"]})
    r = upload(mapp, "agpl_pkg", "1.0", "License-Expression: AGPL-3.0-only", code=None)
    assert r.status_code == 403
    assert (
        f"policy: 'agpl_pkg 1.0' license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*' "
        f"on {api.stagename}" in r.status
    )
    upload(mapp, "dual_pkg", "1.0", "License-Expression: AGPL-3.0-only OR MIT")
    upload(mapp, "classified", "1.0", "Classifier: License :: OSI Approved :: MIT License")


def test_allow_list_and_unknown_licenses(mapp: Any) -> None:
    api = mapp.create_and_use(indexconfig={"license_allow": ["MIT", "BSD-*"],
                                           "license_unknown": "deny"})  # fmt: skip
    upload(mapp, "mit_pkg", "1.0", "License: MIT License")
    r = upload(mapp, "apache_pkg", "1.0", "License-Expression: Apache-2.0", code=None)
    assert r.status_code == 403
    assert "license 'Apache-2.0' is not in license_allow 'MIT, BSD-*'" in r.status
    r = upload(mapp, "nolicense", "1.0", "", code=None)
    assert r.status_code == 403
    assert (
        f"'nolicense 1.0' license is unknown, refused by license_unknown 'deny' on {api.stagename}"
        in r.status
    )
    rules = {"license_allow": ["MIT", "BSD-*"], "license_unknown": "deny"}
    mapp.modify_index(api.stagename, {"type": "stage", **rules, "policy_mode": "dry-run"})
    upload(mapp, "apache_pkg", "1.0", "License-Expression: Apache-2.0")


def test_malformed_license_rules_are_refused_with_every_problem(mapp: Any) -> None:
    mapp.login_root()
    message = mapp.create_index(
        "root/bad",
        indexconfig={"license_deny": ["not a license!"], "license_unknown": "sometimes"},
        code=400,
    )
    assert "license_deny on root/bad: 'not a license!' is not an SPDX identifier or glob" in message
    assert "license_unknown on root/bad: 'sometimes' is not one of allow, warn, deny" in message
