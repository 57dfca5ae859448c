"""An upload's file name, form and core metadata must name one release (core.consistency)."""

from __future__ import annotations

import pytest

from devpi_policy.core.consistency import Naming, naming_problem

FILE = Naming(source="file name", name="acme_tools", version="1.0")


@pytest.mark.parametrize(
    ("form", "meta"),
    [
        (Naming(source="upload form", name="Acme.Tools", version="1.0"),
         Naming(source="core metadata", name="ACME-tools", version="1.0.0")),
        (Naming(source="upload form", name="acme-tools", version=None),
         Naming(source="core metadata", name="acme-tools", version="1.0")),
        (Naming(source="upload form", name=None, version=None),
         Naming(source="core metadata", name=None, version=None)),
    ],
    ids=["normalised-names-and-versions", "form-without-version", "nothing-else-known"],
)  # fmt: skip
def test_agreeing_namings_pass(form: Naming, meta: Naming) -> None:
    assert naming_problem("acme_tools-1.0.tar.gz", [FILE, form, meta]) is None


@pytest.mark.parametrize(
    ("meta", "said"),
    [
        (Naming(source="core metadata", name="evil-pkg", version="1.0"),
         "core metadata 'evil-pkg' '1.0'"),
        (Naming(source="core metadata", name="acme-tools", version="2.0"),
         "core metadata 'acme-tools' '2.0'"),
        (Naming(source="core metadata", name="acme-tools", version="not-a-version"),
         "core metadata 'acme-tools' 'not-a-version'"),
    ],
    ids=["other-project", "other-version", "invalid-version"],
)  # fmt: skip
def test_disagreeing_namings_are_named(meta: Naming, said: str) -> None:
    form = Naming(source="upload form", name="acme-tools", version="1.0")
    problem = naming_problem("acme_tools-1.0.tar.gz", [FILE, form, meta])
    assert problem is not None
    assert problem.startswith("'acme_tools-1.0.tar.gz' names different releases: ")
    assert "file name 'acme_tools' '1.0', upload form 'acme-tools' '1.0', " + said in problem


def test_invalid_versions_compare_as_text() -> None:
    a = Naming(source="file name", name="x", version="Foo")
    b = Naming(source="core metadata", name="x", version="foo")
    assert naming_problem("x-Foo.tar.gz", [a, b]) is None
