"""Licenses read from real wheel and sdist archives (bounded reader; hostile files are
unreadable, with the reason and what their core metadata alone names, never an exception)."""

from __future__ import annotations

import dataclasses
import io
import tarfile
import zipfile

from devpi_foundry_common.archive import Limits
from devpi_license.adapters.reading import LIMITS, license_of_file

MIT = "Permission is hereby granted, free of charge, to any person obtaining a copy\n"


def wheel(metadata: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", metadata)
        for name, text in files.items():
            zf.writestr(f"demo-1.0.dist-info/{name}", text)
        zf.writestr("demo/__init__.py", "")
    return buf.getvalue()


def sdist(metadata: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in {"PKG-INFO": metadata, **files}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"demo-1.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


HEAD = "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n"


def test_pep639_wheel_expression_and_license_files() -> None:
    data = wheel(HEAD + "License-Expression: mit\nLicense-File: LICENSE\n\n",
                 {"licenses/LICENSE": MIT})  # fmt: skip
    info = license_of_file("demo-1.0-py3-none-any.whl", data)
    assert (info.expression, info.source) == ("MIT", "License-Expression")
    assert [e.source for e in info.evidence] == ["License-Expression", "License-File LICENSE"]


def test_sdist_classifier_and_guessed_license_file() -> None:
    meta = HEAD + "Classifier: License :: OSI Approved :: BSD License\n\n"
    info = license_of_file("demo-1.0.tar.gz", sdist(meta, {"COPYING": MIT, "src/x.py": ""}))
    assert (info.expression, info.source) == ("MIT", "License-File")
    assert info.evidence[0].how == "names a license family, no version"


def test_hostile_or_broken_files_are_unknown_with_the_reason() -> None:
    broken = license_of_file("demo-1.0-py3-none-any.whl", b"not a zip")
    assert broken.expression is None
    assert "could not be read" in broken.evidence[0].how
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", HEAD + "License: MIT\n\n")
        zf.writestr("../evil", "x")
    traversal = license_of_file("demo-1.0-py3-none-any.whl", buf.getvalue())
    assert traversal.expression == "MIT"  # METADATA alone can still be reached safely
    assert traversal.unreadable
    assert "parent directory references" in traversal.unreadable[0]
    no_pkg_info = license_of_file(
        "demo-1.0.tar.gz", sdist(HEAD, {}).replace(b"PKG-INFO", b"PKG-INFX")
    )
    assert no_pkg_info.expression is None


def test_a_file_object_gives_the_same_license_as_its_bytes() -> None:
    """Uploads are read in place from devpi's temporary file, not copied into memory."""
    data = wheel(HEAD + "License-Expression: mit\nLicense-File: LICENSE\n\n",
                 {"licenses/LICENSE": MIT})  # fmt: skip
    from_file = license_of_file("demo-1.0-py3-none-any.whl", io.BytesIO(data))
    assert from_file == license_of_file("demo-1.0-py3-none-any.whl", data)
    meta = HEAD + "Classifier: License :: OSI Approved :: BSD License\n\n"
    tar = sdist(meta, {"COPYING": MIT})
    assert license_of_file("demo-1.0.tar.gz", io.BytesIO(tar)).expression == "MIT"
    assert license_of_file("demo-1.0.tar.gz", io.BytesIO(b"x")).expression is None


AGPL = HEAD + "License-Expression: AGPL-3.0-only\n\n"


def _link(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


def test_wheel_with_a_symlink_member_is_unreadable_and_its_metadata_still_judged() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", AGPL)
        zf.writestr(_link("demo/link", "/etc/passwd"), "/etc/passwd")
    found = license_of_file("demo-1.0-py3-none-any.whl", buf.getvalue())
    assert found.expression == "AGPL-3.0-only"
    assert len(found.unreadable) == 1
    assert "links are not allowed" in found.unreadable[0]


def test_wheel_with_too_many_members_is_unreadable() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", AGPL)
        for i in range(LIMITS.max_members):
            zf.writestr(f"demo/m{i}", "")
    found = license_of_file("demo-1.0-py3-none-any.whl", buf.getvalue())
    assert found.expression == "AGPL-3.0-only"
    assert f"more than {LIMITS.max_members} members" in found.unreadable[0]


def test_metadata_that_is_itself_a_link_is_not_followed() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(_link("demo-1.0.dist-info/METADATA", "/etc/passwd"), "/etc/passwd")
    found = license_of_file("demo-1.0-py3-none-any.whl", buf.getvalue())
    assert found.expression is None
    assert found.unreadable


def test_sdist_with_a_symlink_member_still_gives_its_pkg_info() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = AGPL.encode()
        info = tarfile.TarInfo("demo-1.0/PKG-INFO")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("demo-1.0/evil")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    stream = io.BytesIO(buf.getvalue())
    found = license_of_file("demo-1.0.tar.gz", stream)
    assert found.expression == "AGPL-3.0-only"
    assert "links are not allowed" in found.unreadable[0]


def test_not_an_archive_is_unreadable_without_a_license() -> None:
    found = license_of_file("demo-1.0-py3-none-any.whl", b"not a zip")
    assert found.expression is None
    assert found.unreadable == (
        (
            "demo-1.0-py3-none-any.whl could not be read: 'demo-1.0-py3-none-any.whl' is not a "
            "readable archive: File is not a zip file"
        ),
    )


def test_caps_are_no_looser_than_the_shared_readers_defaults() -> None:
    defaults = Limits()
    for field in dataclasses.fields(Limits):
        assert getattr(LIMITS, field.name) <= getattr(defaults, field.name), field.name
