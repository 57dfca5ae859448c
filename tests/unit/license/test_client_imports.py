"""devpi imports every client plugin on every command: ``devpi_license.client`` must stay
cheap to load and must not need the ``client`` extra's CycloneDX library until used."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_client_plugin_imports_no_report_machinery() -> None:
    code = (
        "import sys\n"
        "import devpi_license.client\n"
        "heavy = ('cyclonedx', 'jsonschema', 'packageurl', 'concurrent', 'subprocess',\n"
        "         'packaging', 'devpi_license.core', 'devpi_license.adapters')\n"
        "print(sorted({m for m in sys.modules if m.startswith(heavy)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_plugin_offers_devpi_license() -> None:
    from devpi_license.client import devpiclient_subcommands, license_arguments

    assert devpiclient_subcommands() == [
        (license_arguments, "license", "devpi_license.client:license_command")
    ]
