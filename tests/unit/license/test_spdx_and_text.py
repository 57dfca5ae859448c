"""SPDX parsing, the classifier table and free-text recognition."""

from __future__ import annotations

import pytest

from devpi_license.core.classifiers import TABLE, classify
from devpi_license.core.freetext import match_text
from devpi_license.core.spdx import All, Either, License, licenses, normalize, parse


def test_expressions_are_canonical_and_parsed_with_precedence() -> None:
    tree = parse("(mit or apache-2.0) and gpl-2.0-only with classpath-exception-2.0")
    assert tree == All((
        Either((License("MIT"), License("Apache-2.0"))),
        License("GPL-2.0-only", "Classpath-exception-2.0"),
    ))  # fmt: skip
    assert [str(leaf) for leaf in licenses(tree)] == [
        "MIT", "Apache-2.0", "GPL-2.0-only WITH Classpath-exception-2.0"]  # fmt: skip
    assert parse("MIT OR Apache-2.0 AND BSD-3-Clause") == Either(
        (License("MIT"), All((License("Apache-2.0"), License("BSD-3-Clause"))))
    )


@pytest.mark.parametrize("text", ["", "MIT License", "MIT OR", "(MIT", "GPL-2.0 WITH"])
def test_non_expressions_are_refused(text: str) -> None:
    assert normalize(text) is None
    with pytest.raises(ValueError, match="not an SPDX license expression"):
        parse(text)


def test_every_classifier_maps_to_a_valid_identifier_or_to_nothing() -> None:
    for classifier, (spdx, confidence) in TABLE.items():
        if spdx is None:
            assert confidence == 0.0, classifier
        else:
            assert normalize(spdx) == spdx, classifier
            assert 0.5 <= confidence <= 1.0, classifier
    gpl3_plus = "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)"
    assert classify(gpl3_plus) == ("GPL-3.0-or-later", 0.95)
    assert classify("License :: Some :: New Classifier") == (None, 0.0)


MIT_TEXT = """Copyright (c) 2024 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction ..."""
GPL3_TEXT = """                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007

 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>"""
LGPL3_TEXT = """                   GNU LESSER GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007
  This version of the GNU Lesser General Public License incorporates
the terms and conditions of version 3 of the GNU General Public License"""
BSD3_TEXT = """Redistribution and use in source and binary forms, with or without
modification, are permitted provided that ... 3. Neither the name of the copyright holder"""


@pytest.mark.parametrize(
    ("text", "expression", "confidence"),
    [
        ("MIT", "MIT", 0.9),
        ("mit or apache-2.0", "MIT OR Apache-2.0", 0.9),
        ("The MIT License", "MIT", 0.85),
        ("Apache 2.0", "Apache-2.0", 0.85),
        ("GPLv3+", "GPL-3.0-or-later", 0.85),
        ("GPLv3", "GPL-3.0-only", 0.6),
        ("new BSD license", "BSD-3-Clause", 0.85),
        (MIT_TEXT, "MIT", 0.8),
        (GPL3_TEXT, "GPL-3.0-only", 0.6),
        (LGPL3_TEXT, "LGPL-3.0-only", 0.6),
        (BSD3_TEXT, "BSD-3-Clause", 0.8),
    ],
)
def test_free_text_is_recognised(text: str, expression: str, confidence: float) -> None:
    found = match_text(text)
    assert found is not None
    assert (found.expression, found.confidence) == (expression, confidence)


@pytest.mark.parametrize("text", ["", "BSD", "GPL", "UNKNOWN", "see LICENSE", "Proprietary",
                                  "All rights reserved by ACME Corp."])  # fmt: skip
def test_families_and_nonsense_stay_unknown(text: str) -> None:
    assert match_text(text) is None
