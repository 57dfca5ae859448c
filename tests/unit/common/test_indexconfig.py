from __future__ import annotations

from typing import Any

import pytest

from devpi_foundry_common.indexconfig import (
    edited_missing,
    normalize_option,
    normalized,
    operation_options,
)

DEFAULTS: dict[str, object] = {"policy_exclude": [], "policy_mode": "enforce"}


def test_list_options_split_like_devpi() -> None:
    assert normalize_option([], "a, b,,c ") == ["a", "b", "c"]
    assert normalize_option([], ("a", "b")) == ["a", "b"]
    assert normalize_option([], "") == []
    assert normalize_option("enforce", "dry-run") == "dry-run"


@pytest.mark.parametrize(("default", "value"), [([], None), ([], {"a": 1}), ("x", ["y"])])
def test_wrong_types_are_refused(default: object, value: object) -> None:
    with pytest.raises(ValueError, match="not a"):
        normalize_option(default, value)


class InvalidError(Exception):
    pass


def test_normalized_raises_devpis_error_naming_the_option() -> None:
    customizer: Any = type("C", (), {"InvalidIndexconfig": InvalidError})()
    assert normalized(customizer, DEFAULTS, "policy_exclude", "a,b") == ["a", "b"]
    with pytest.raises(InvalidError) as exc:
        normalized(customizer, DEFAULTS, "policy_mode", None)
    assert exc.value.args[0] == ["policy_mode: not a string: None"]


def test_only_edited_missing_options_get_their_default() -> None:
    ops = ["policy_exclude+=evil-*", "policy_mode=dry-run", "other+=x", 7]
    assert edited_missing(ops, {"type": "stage"}, DEFAULTS) == {"policy_exclude": []}
    assert edited_missing(["policy_exclude-=x"], {}, DEFAULTS) == {"policy_exclude": []}
    assert edited_missing(["policy_exclude+=x"], {"policy_exclude": ["y"]}, DEFAULTS) == {}
    assert edited_missing({"policy_exclude": "x"}, {}, DEFAULTS) == {}


def test_edited_defaults_are_copies() -> None:
    found = edited_missing(["policy_exclude+=x"], {}, DEFAULTS)
    value = found["policy_exclude"]
    assert isinstance(value, list)
    value.append("x")
    assert DEFAULTS["policy_exclude"] == []


def test_operation_options() -> None:
    ops = ["license_deny+=AGPL-*", "license_deny+=GPL-*", "policy_mode=", "x-=y", "z-="]
    assert operation_options(ops) == {"license_deny": ["AGPL-*", "GPL-*"], "policy_mode": ""}


class Customizer:
    InvalidIndexconfig = InvalidError

    def get_possible_indexconfig_keys(self) -> tuple[str, ...]:
        return ("mirror_url",)

    def normalize_indexconfig_value(self, key: str, value: object) -> object:
        return f"base {key}={value}"


def test_declared_options_of_stacked_mixins_chain() -> None:
    from devpi_foundry_common.indexconfig import DeclaredOptions

    class First(DeclaredOptions, defaults={"policy_exclude": []}):
        pass

    class Second(DeclaredOptions, defaults={"license_unknown": "allow"}):
        pass

    stacked: Any = type("Stacked", (First, Second, Customizer), {})()
    assert stacked.get_possible_indexconfig_keys() == (
        "mirror_url", "license_unknown", "policy_exclude"
    )  # fmt: skip
    assert stacked.normalize_indexconfig_value("policy_exclude", "a,b") == ["a", "b"]
    assert stacked.normalize_indexconfig_value("license_unknown", "deny") == "deny"
    assert stacked.normalize_indexconfig_value("mirror_url", "u") == "base mirror_url=u"
