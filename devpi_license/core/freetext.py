"""Free text to SPDX: the legacy ``License`` field and license files, with a confidence.

Three tiers, most certain first: the text *is* an SPDX expression (0.9); it is a known
name of one license ("MIT License", "Apache 2.0", "GPLv3+": 0.85, or lower where the name
leaves the version or "or later" open); it is the text of a license, recognised by phrases
only that license's text contains (0.8, 0.6 for the GPL family, whose text does not say
"only" or "or later"). Names of license families ("BSD", "GPL") map to nothing: unknown
stays unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from devpi_license.core.spdx import normalize

#: the longest text still read as a name rather than a license text
NAME_MAX: Final = 120


@dataclass(frozen=True, slots=True)
class Match:
    expression: str
    confidence: float
    how: str


_NAMES: Final = MappingProxyType({
    ("mit", "mit license", "the mit license", "mit licence", "expat", "mit/expat"): ("MIT", 0.85),
    ("bsd-3", "bsd 3-clause", "bsd-3-clause license", "new bsd", "new bsd license",
     "modified bsd", "revised bsd", "3-clause bsd", "bsd 3 clause", "bsd-3-clause license",
     "3-clause bsd license"): ("BSD-3-Clause", 0.85),
    ("simplified bsd", "2-clause bsd", "bsd 2-clause", "freebsd", "bsd-2",
     "2-clause bsd license"): ("BSD-2-Clause", 0.85),
    ("apache", "apache 2", "apache 2.0", "apache-2", "apache2", "apache license 2.0",
     "apache license, version 2.0", "apache license version 2.0", "apache software license",
     "apache software license 2.0", "asl 2.0", "apache license (2.0)", "apache 2 license",
     "apache license 2"): ("Apache-2.0", 0.85),
    ("gplv2", "gpl-2", "gpl v2", "gpl 2", "gnu gpl v2", "gpl2"): ("GPL-2.0-only", 0.6),
    ("gplv2+", "gpl-2+", "gplv2 or later", "gpl-2.0+", "gpl v2 or later"): (
        "GPL-2.0-or-later", 0.85),
    ("gplv3", "gpl-3", "gpl v3", "gpl 3", "gnu gpl v3", "gpl3", "gnu gplv3"): (
        "GPL-3.0-only", 0.6),
    ("gplv3+", "gpl-3+", "gplv3 or later", "gpl-3.0+", "gpl v3 or later"): (
        "GPL-3.0-or-later", 0.85),
    ("lgplv3", "lgpl-3", "lgpl v3", "lgpl3"): ("LGPL-3.0-only", 0.6),
    ("lgplv3+", "lgpl-3+", "lgplv3 or later"): ("LGPL-3.0-or-later", 0.85),
    ("lgplv2.1", "lgpl-2.1", "lgpl v2.1", "lgpl 2.1"): ("LGPL-2.1-only", 0.6),
    ("lgplv2.1+", "lgpl-2.1+", "lgplv2+"): ("LGPL-2.1-or-later", 0.85),
    ("agplv3", "agpl-3", "agpl v3", "agpl 3", "agpl3", "gnu agpl v3"): ("AGPL-3.0-only", 0.6),
    ("agplv3+", "agpl-3+", "agplv3 or later"): ("AGPL-3.0-or-later", 0.85),
    ("mpl 2.0", "mpl-2", "mpl2", "mpl v2", "mozilla public license 2.0",
     "mozilla public license, version 2.0"): ("MPL-2.0", 0.85),
    ("isc", "isc license", "iscl"): ("ISC", 0.85),
    ("psf", "psfl", "psf license", "python software foundation license",
     "psf-2", "python software foundation license 2"): ("PSF-2.0", 0.8),
    ("unlicense", "the unlicense"): ("Unlicense", 0.85),
    ("zlib", "zlib license", "zlib/libpng"): ("Zlib", 0.85),
    ("cc0", "cc0 1.0", "cc0-1", "cc0 1.0 universal"): ("CC0-1.0", 0.85),
    ("wtfpl",): ("WTFPL", 0.85),
})  # fmt: skip
_BY_NAME: Final = {name: value for names, value in _NAMES.items() for name in names}

#: (license, confidence, phrases that must all appear), most specific first
_TEXTS: Final = (
    ("AGPL-3.0-only", 0.6, ("gnu affero general public license", "version 3, 19 november 2007")),
    ("LGPL-3.0-only", 0.6, ("gnu lesser general public license", "version 3, 29 june 2007")),
    ("LGPL-2.1-only", 0.6, ("gnu lesser general public license", "version 2.1, february 1999")),
    ("GPL-3.0-only", 0.6, ("gnu general public license", "version 3, 29 june 2007")),
    ("GPL-2.0-only", 0.6, ("gnu general public license", "version 2, june 1991")),
    ("Apache-2.0", 0.8, ("apache license", "version 2.0, january 2004")),
    ("MPL-2.0", 0.8, ("mozilla public license", "version 2.0")),
    ("MIT", 0.8, ("permission is hereby granted, free of charge, to any person obtaining",)),
    ("ISC", 0.8, ("permission to use, copy, modify, and/or distribute this software for any",)),
    ("BSD-3-Clause", 0.8, ("redistribution and use in source and binary forms",
                           "neither the name of")),
    ("BSD-2-Clause", 0.7, ("redistribution and use in source and binary forms",)),
    ("Unlicense", 0.8, ("this is free and unencumbered software released into the public",)),
    ("PSF-2.0", 0.8, ("python software foundation license version 2",)),
)  # fmt: skip


def _simplify(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def match_text(text: str) -> Match | None:
    """What ``text`` (a ``License`` field or a license file) names, if anything.

    >>> match_text("MIT License")
    Match(expression='MIT', confidence=0.85, how="known name 'MIT License'")
    >>> match_text("BSD") is None
    True
    """
    simple = _simplify(text)
    if not simple or simple in ("unknown", "none", "n/a", "license", "see license", "other"):
        return None
    if len(simple) <= NAME_MAX:
        canonical = normalize(text)
        if canonical is not None and canonical != "LicenseRef-Proprietary":
            return Match(canonical, 0.9, "an SPDX expression")
        found = _BY_NAME.get(simple.rstrip("."))
        if found is not None:
            return Match(found[0], found[1], f"known name {text.strip()!r}")
    for spdx_id, confidence, phrases in _TEXTS:
        if all(phrase in simple for phrase in phrases):
            return Match(spdx_id, confidence, f"license text containing {phrases[-1]!r}")
    return None
