"""The status line of waiting client commands: on a terminal only, cleared before output."""

from __future__ import annotations

import io

from devpi_foundry_common.progress import Progress

CLEAR = "\r\x1b[K"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_the_status_is_rewritten_in_place_with_seconds() -> None:
    out, clock = Terminal(), Clock()
    with Progress(out, clock=clock) as progress:
        progress.update("resolving")
        clock.now += 3.4
        progress.update("fetching licenses 2/5")
    assert out.getvalue() == f"{CLEAR}resolving (0 s){CLEAR}fetching licenses 2/5 (3 s){CLEAR}"


def test_notes_stay_and_replace_the_status_line() -> None:
    out = Terminal()
    with Progress(out, clock=Clock()) as progress:
        progress.note("job 1: queued (0 s)")
        progress.update("waiting for 1 build: 1 queued")
        progress.note("job 1: running (0 s)")
    assert out.getvalue() == (
        f"job 1: queued (0 s)\n{CLEAR}waiting for 1 build: 1 queued (0 s)"
        f"{CLEAR}job 1: running (0 s)\n"
    )


def test_nothing_is_written_when_not_a_terminal_or_disabled() -> None:
    for out, enabled in ((io.StringIO(), True), (Terminal(), False)):
        with Progress(out, enabled=enabled) as progress:
            progress.update("resolving")
            progress.note("job 1: queued")
        assert out.getvalue() == ""
