from __future__ import annotations

from devpi_foundry_common.indexconfig import missing_defaults


def test_returns_only_missing_keys() -> None:
    stored = {"type": "stage", "policy_mode": "dry-run"}
    defaults = {"policy_mode": "enforce", "policy_exclude": []}
    assert missing_defaults(stored, defaults) == {"policy_exclude": []}


def test_nothing_missing() -> None:
    assert missing_defaults({"a": 1}, {"a": 2}) == {}


def test_defaults_are_copies() -> None:
    defaults: dict[str, object] = {"policy_exclude": []}
    result = missing_defaults({}, defaults)
    result_list = result["policy_exclude"]
    assert isinstance(result_list, list)
    result_list.append("x")
    assert defaults == {"policy_exclude": []}


def test_defaults_gate_is_closed_until_a_serving_parser_opens_it() -> None:
    from devpi_foundry_common.indexconfig import DefaultsGate

    gate = DefaultsGate()
    defaults: dict[str, object] = {"policy_exclude": [], "policy_mode": "enforce"}
    assert gate.defaults(defaults) == {}
    gate.open()
    given = gate.defaults(defaults)
    assert given == defaults
    assert given["policy_exclude"] is not defaults["policy_exclude"]
