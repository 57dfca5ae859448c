"""devpi_license's client plugin against devpi-client's hookspecs, and its arguments."""

from __future__ import annotations

import argparse

from devpi import hookspecs as client_hookspecs
from pluggy import PluginManager

import devpi_license.client


def test_client_hookimpls_match_devpi_client_hookspecs() -> None:
    pm = PluginManager("devpiclient")
    pm.add_hookspecs(client_hookspecs)
    pm.register(devpi_license.client)
    pm.check_pending()
    (subcommands,) = pm.hook.devpiclient_subcommands()
    assert [(name, target) for _, name, target in subcommands] == [
        ("license", "devpi_license.client:license_command")
    ]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    devpi_license.client.license_arguments(parser)
    return parser.parse_args(argv)


def test_report_arguments_and_defaults() -> None:
    args = parse("report", "a", "b>=1", "--platform", "win_amd64", "--platform", "win32")
    assert args.license_command == "report"
    assert args.specs == ["a", "b>=1"]
    assert args.platform == ["win_amd64", "win32"]
    assert (args.index, args.python_version, args.output) == (None, None, None)
    assert (args.format, args.pending_timeout) == ("table", 30.0)


def test_show_arguments_avoid_devpis_own_dests() -> None:
    args = parse("show", "foo==1.0", "--index", "alice/dev", "--json")
    assert (args.spec, args.index, args.json) == ("foo==1.0", "alice/dev", True)
    assert not hasattr(args, "version")  # would collide with devpi's --version
