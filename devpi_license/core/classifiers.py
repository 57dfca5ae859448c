"""Trove license classifiers mapped to SPDX, each with how sure the mapping is.

A classifier names a license family, sometimes without a version ("BSD License", "GNU
General Public License (GPL)"): those map to nothing (``None``), because guessing a
version would turn "we do not know" into a wrong answer; the rules then treat the release
as ``unknown``. Classifiers that name one license map with confidence 0.95; the few that
name a family whose members differ only in wording (``Apache Software License``, used
for Apache-2.0 in practice) map with a lower confidence, so the evidence says so. The
table is tested against packaging's SPDX list (every value is a valid identifier).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

PREFIX: Final = "License :: "
SURE: Final = 0.95
LIKELY: Final = 0.7

#: classifier (without "License :: ") -> (SPDX expression or None, confidence)
TABLE: Final = MappingProxyType({
    "OSI Approved :: MIT License": ("MIT", SURE),
    "OSI Approved :: MIT No Attribution License (MIT-0)": ("MIT-0", SURE),
    "OSI Approved :: Apache Software License": ("Apache-2.0", LIKELY),
    "OSI Approved :: BSD License": (None, 0.0),
    "OSI Approved :: ISC License (ISCL)": ("ISC", SURE),
    "OSI Approved :: Python Software Foundation License": ("PSF-2.0", SURE),
    "OSI Approved :: Mozilla Public License 1.0 (MPL)": ("MPL-1.0", SURE),
    "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": ("MPL-1.1", SURE),
    "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": ("MPL-2.0", SURE),
    "OSI Approved :: GNU General Public License (GPL)": (None, 0.0),
    "OSI Approved :: GNU General Public License v2 (GPLv2)": ("GPL-2.0-only", LIKELY),
    "OSI Approved :: GNU General Public License v2 or later (GPLv2+)": (
        "GPL-2.0-or-later", SURE),
    "OSI Approved :: GNU General Public License v3 (GPLv3)": ("GPL-3.0-only", LIKELY),
    "OSI Approved :: GNU General Public License v3 or later (GPLv3+)": (
        "GPL-3.0-or-later", SURE),
    "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": ("LGPL-2.0-only", LIKELY),
    "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": (
        "LGPL-2.0-or-later", SURE),
    "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": ("LGPL-3.0-only", LIKELY),
    "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": (
        "LGPL-3.0-or-later", SURE),
    "OSI Approved :: GNU Library or Lesser General Public License (LGPL)": (None, 0.0),
    "OSI Approved :: GNU Affero General Public License v3": ("AGPL-3.0-only", LIKELY),
    "OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": (
        "AGPL-3.0-or-later", SURE),
    "OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)": ("EPL-1.0", SURE),
    "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": ("EPL-2.0", SURE),
    "OSI Approved :: European Union Public Licence 1.1 (EUPL 1.1)": ("EUPL-1.1", SURE),
    "OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": ("EUPL-1.2", SURE),
    "OSI Approved :: Academic Free License (AFL)": (None, 0.0),
    "OSI Approved :: Artistic License": (None, 0.0),
    "OSI Approved :: Boost Software License 1.0 (BSL-1.0)": ("BSL-1.0", SURE),
    "OSI Approved :: Common Development and Distribution License 1.0 (CDDL-1.0)": (
        "CDDL-1.0", SURE),
    "OSI Approved :: The Unlicense (Unlicense)": ("Unlicense", SURE),
    "OSI Approved :: Universal Permissive License (UPL)": ("UPL-1.0", SURE),
    "OSI Approved :: zlib/libpng License": ("Zlib", SURE),
    "OSI Approved :: Zope Public License": (None, 0.0),
    "OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": ("HPND", SURE),
    "OSI Approved :: Open Software License 3.0 (OSL-3.0)": ("OSL-3.0", SURE),
    "OSI Approved :: PostgreSQL License": ("PostgreSQL", SURE),
    "OSI Approved :: SIL Open Font License 1.1 (OFL-1.1)": ("OFL-1.1", SURE),
    "OSI Approved :: Apple Public Source License": (None, 0.0),
    "OSI Approved :: Mulan Permissive Software License v2 (MulanPSL-2.0)": (
        "MulanPSL-2.0", SURE),
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": ("CC0-1.0", SURE),
    "Public Domain": (None, 0.0),
    "OSI Approved": (None, 0.0),
    "Other/Proprietary License": (None, 0.0),
    "Freely Distributable": (None, 0.0),
    "Freeware": (None, 0.0),
    "DFSG approved": (None, 0.0),
    "GUST Font License 1.0": (None, 0.0),
    "Aladdin Free Public License (AFPL)": ("Aladdin", SURE),
    "Eiffel Forum License (EFL)": (None, 0.0),
    "Netscape Public License (NPL)": (None, 0.0),
    "Nokia Open Source License (NOKOS)": ("Nokia", SURE),
})  # fmt: skip


def classify(classifier: str) -> tuple[str | None, float] | None:
    """``(SPDX or None, confidence)`` for a license classifier; ``None`` for others.

    >>> classify("License :: OSI Approved :: MIT License")
    ('MIT', 0.95)
    >>> classify("License :: OSI Approved :: BSD License")
    (None, 0.0)
    >>> classify("Programming Language :: Python") is None
    True
    """
    text = " ".join(classifier.split())
    if not text.startswith(PREFIX):
        return None
    return TABLE.get(text.removeprefix(PREFIX), (None, 0.0))
