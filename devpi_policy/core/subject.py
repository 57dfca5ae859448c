"""What a policy decision is about, as handed to devpi_policy's own plugins (hookspecs.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

#: ``upload``: a file, registration or push arriving in ``index``; ``serve``: what a listing
#: (simple page, JSON API) shows; ``download``: a direct ``+f``/``+e`` file request;
#: ``check``: ``devpi policy check`` asking hypothetically.
Phase = Literal["upload", "serve", "download", "check"]
PHASES: Final[tuple[Phase, ...]] = ("upload", "serve", "download", "check")


@dataclass(frozen=True, kw_only=True, slots=True)
class Subject:
    """A project, release or file, asked about under the rules of the index ``index``.

    ``stored_in`` names the index holding the file or release when it is known (serving,
    downloads). For uploads of a file, ``content()`` returns its bytes (it may be large)
    and ``stream()`` the seekable binary file holding it, positioned at its start (read
    what is needed from it and leave it open; its position is reset after the hook).
    """

    phase: Phase
    index: str
    project: str
    version: str | None = None
    filename: str | None = None
    stored_in: str | None = None
    content: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)
    stream: Callable[[], IO[bytes]] | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """How reasons name the subject: the file name, else ``project version``."""
        if self.filename:
            return self.filename
        return f"{self.project} {self.version}" if self.version else self.project
