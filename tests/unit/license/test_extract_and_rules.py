"""Extraction from core metadata (most trusted source wins, evidence and conflicts kept)
and the verdict of license rules."""

from __future__ import annotations

import pytest

from devpi_license.core.extract import UNKNOWN, LicenseInfo, extract
from devpi_license.core.rules import LicenseRules, option_problems, verdict

GPL_TEXT = "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n" + "terms " * 3000


def test_expression_wins_and_a_disagreeing_field_is_a_conflict() -> None:
    info = extract(
        {"license_expression": "mit", "license": "GPLv3+",
         "classifiers": ["License :: OSI Approved :: MIT License"]},
        {},
    )  # fmt: skip
    assert (info.expression, info.source, info.confidence) == ("MIT", "License-Expression", 1.0)
    assert [e.source for e in info.evidence] == ["License-Expression", "Classifier", "License"]
    assert info.conflicts == ("License says 'GPL-3.0-or-later', License-Expression says 'MIT'",)


def test_classifier_only_and_several_classifiers_are_a_choice() -> None:
    one = extract({"classifiers": ["License :: OSI Approved :: ISC License (ISCL)"]}, {})
    assert (one.expression, one.source) == ("ISC", "Classifier")
    classifiers = [
        "License :: OSI Approved :: MIT License",
        "License :: OSI Approved :: Apache Software License",
    ]
    two = extract({"classifiers": classifiers}, {})
    assert two.expression == "MIT OR Apache-2.0"
    assert two.confidence == pytest.approx(0.6)


def test_free_text_field_and_a_whole_license_text() -> None:
    assert extract({"license": "MIT License"}, {}).expression == "MIT"
    whole = extract({"license": GPL_TEXT}, {})
    assert (whole.expression, whole.confidence) == ("GPL-3.0-only", 0.6)
    assert len(whole.evidence[0].value) <= 300  # the evidence is shortened


def test_license_files_are_the_last_resort_and_all_apply() -> None:
    info = extract({}, {"LICENSE": "Permission is hereby granted, free of charge, to any "
                        "person obtaining a copy", "COPYING": GPL_TEXT})  # fmt: skip
    assert (info.expression, info.source) == ("GPL-3.0-only AND MIT", "License-File")


def test_nothing_and_nonsense_stay_unknown_with_evidence() -> None:
    assert extract({}, {}) == LicenseInfo(None, None, 0.0)
    info = extract({"license": "UNKNOWN", "license_expression": "not a license"}, {})
    assert info.expression is None
    assert [e.how for e in info.evidence] == ["not a valid SPDX expression", "not recognised"]
    assert LicenseInfo.from_json(info.as_json()) == info
    assert UNKNOWN.expression is None


@pytest.mark.parametrize(
    ("rules", "expression", "allowed", "reason"),
    [
        (LicenseRules(deny=("AGPL-*",)), "AGPL-3.0-only", False,
         "license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*'"),
        (LicenseRules(deny=("agpl-*",)), "AGPL-3.0-only", False, None),
        (LicenseRules(deny=("GPL-*",)), "GPL-3.0-only OR MIT", True, None),
        (LicenseRules(deny=("GPL-*",)), "GPL-3.0-only AND MIT", False,
         "license 'GPL-3.0-only AND MIT' is denied: 'GPL-3.0-only' by license_deny 'GPL-*'"),
        (LicenseRules(allow=("MIT", "BSD-*")), "Apache-2.0", False,
         "license 'Apache-2.0' is not in license_allow 'MIT, BSD-*'"),
        (LicenseRules(allow=("MIT", "BSD-*")), "BSD-3-Clause", True, None),
        (LicenseRules(deny=("GPL-*",), allow=("GPL-2.0-only WITH Classpath-exception-2.0",)),
         "GPL-2.0-only WITH Classpath-exception-2.0", True, None),
        (LicenseRules(deny=("GPL-*",)), "GPL-2.0-only WITH Classpath-exception-2.0", False, None),
        (LicenseRules(deny=("GPL-2.0-only WITH *",)), "GPL-2.0-only", True, None),
    ],
)  # fmt: skip
def test_rules(rules: LicenseRules, expression: str, allowed: bool, reason: str | None) -> None:
    found = verdict(rules, expression)
    assert found.allowed is allowed
    assert found.state == ("allowed" if allowed else "denied")
    if reason:
        assert found.reason == reason


def test_unknown_and_pending() -> None:
    assert verdict(LicenseRules(), None).allowed
    warn = verdict(LicenseRules(unknown="warn"), None)
    assert (warn.allowed, warn.state, warn.reason) == (
        True, "unknown", "license is unknown (license_unknown 'warn')")  # fmt: skip
    assert not verdict(LicenseRules(unknown="deny"), None).allowed
    assert not verdict(LicenseRules(unknown="deny"), "not an expression").allowed
    assert not verdict(LicenseRules(deny=("X",)), "MIT", pending=True).allowed
    assert verdict(LicenseRules(), "MIT", pending=True).allowed


def test_option_problems_are_all_listed() -> None:
    problems = option_problems("team/prod", {
        "license_allow": ["MIT", "not a license!"], "license_deny": 5,
        "license_unknown": "maybe", "license_unreadable": "warn"})  # fmt: skip
    assert len(problems) == 4
    assert "'not a license!' is not an SPDX identifier or glob" in problems[0]
    assert "license_unknown on team/prod: 'maybe' is not one of allow, warn, deny" in problems[2]
    assert "license_unreadable on team/prod: 'warn' is not one of allow, deny" in problems[3]
    (comma,) = option_problems("t/p", {"license_allow": "MIT,GPL-*", "license_unknown": "warn"})
    assert comma.startswith("license_allow on t/p: 'MIT,GPL-*' is not an SPDX identifier")


WHY = ("demo-1.0-py3-none-any.whl could not be read: member 'demo/x': links are not allowed",)


@pytest.mark.parametrize(
    ("options", "expression", "state", "refused"),
    [
        ({"license_deny": ["AGPL-*"]}, None, "unreadable", True),
        ({"license_deny": ["AGPL-*"]}, "MIT", "unreadable", True),
        ({"license_deny": ["AGPL-*"]}, "AGPL-3.0-only", "denied", True),
        ({"license_deny": ["X"], "license_unreadable": "allow"}, "MIT", "unreadable", True),
        ({"license_deny": ["X"], "license_unknown": "allow"}, "MIT", "unreadable", True),
        (
            {"license_deny": ["X"], "license_unknown": "allow", "license_unreadable": "allow"},
            "MIT",
            "unreadable",
            False,
        ),
        (
            {"license_deny": ["AGPL-*"], "license_unknown": "allow", "license_unreadable": "allow"},
            "AGPL-3.0-only",
            "denied",
            True,
        ),
        ({}, None, "unknown", False),  # no license rule: nothing to judge
    ],
    ids=[
        "no-metadata",
        "metadata-allowed",
        "metadata-denied",
        "only-unreadable-allow",
        "only-unknown-allow",
        "both-allow",
        "both-allow-but-denied",
        "no-rules",
    ],
)
def test_unreadable_files_fail_closed(
    options: dict[str, object], expression: str | None, state: str, refused: bool
) -> None:
    found = verdict(LicenseRules.from_options(options), expression, unreadable=WHY)
    assert (found.state, found.refused) == (state, refused)
    if state == "unreadable":
        assert WHY[0] in (found.reason or "")
