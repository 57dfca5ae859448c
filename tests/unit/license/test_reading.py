"""Licenses read from real wheel and sdist archives (bounded reader; hostile files give an
unknown license with the reason, never an exception)."""

from __future__ import annotations

import io
import tarfile
import zipfile

from devpi_license.adapters.reading import license_of_file

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
    assert traversal.expression is None
    assert "could not be read" in traversal.evidence[0].how
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
