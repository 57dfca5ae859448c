"""The docker backend's spare container (docker_spare.py), with stand-ins for containers."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from devpi_buildfarm.adapters.docker_spare import Made, Spares

if TYPE_CHECKING:
    import pytest


class Container:
    def __init__(self, name: str, *, running: bool = True) -> None:
        self.name, self.status = name, "running" if running else "exited"

    def reload(self) -> None:
        if self.status == "gone":
            raise LookupError(self.name)


class Daemon:
    """Makes containers and records what was removed."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.removed: list[str] = []
        self.lock = threading.Lock()

    def maker(self, inbox: int = 100, *, fail: bool = False) -> Any:
        def make() -> Made:
            if fail:
                msg = "daemon says no"
                raise OSError(msg)
            with self.lock:
                name = f"spare-{len(self.made)}"
                self.made.append(name)
            return Made(Container(name), (Container(f"{name}-volume"),), inbox)

        return make

    def remove(self, things: list[Any]) -> None:
        self.removed += [t.name for t in things]


def spares(daemon: Daemon, seconds: float = 60.0) -> Spares:
    return Spares(seconds, daemon.remove)


def test_a_session_takes_the_spare_made_ahead_and_another_is_made() -> None:
    daemon = Daemon()
    pool = spares(daemon)
    pool.make_ahead("shape", daemon.maker())
    made = pool.take("shape", 50, daemon.maker())
    assert made is not None
    assert made.container.name == "spare-0"
    pool.close()  # the next one was made ahead, and is removed with the server
    assert daemon.made == ["spare-0", "spare-1"]
    assert daemon.removed == ["spare-1", "spare-1-volume"]


def test_no_spare_of_that_shape_means_the_session_makes_its_own() -> None:
    daemon = Daemon()
    pool = spares(daemon)
    pool.make_ahead("small", daemon.maker())
    assert pool.take("large", 50, daemon.maker()) is None
    pool.close()
    assert sorted(daemon.removed) == ["spare-0", "spare-0-volume", "spare-1", "spare-1-volume"]


def test_an_input_larger_than_the_spares_input_volume_is_not_put_into_it() -> None:
    daemon = Daemon()
    pool = spares(daemon)
    pool.make_ahead("shape", daemon.maker(inbox=100))
    assert pool.take("shape", 101, daemon.maker()) is None
    assert daemon.removed == ["spare-0", "spare-0-volume"]  # never used, removed at once
    pool.close()


def test_a_spare_that_stopped_or_vanished_is_not_used() -> None:
    daemon = Daemon()
    pool = spares(daemon)
    pool.make_ahead("shape", lambda: Made(Container("dead", running=False), (), 100))
    assert pool.take("shape", 1, daemon.maker()) is None
    assert "dead" in daemon.removed
    pool.close()


def test_a_spare_is_removed_after_its_seconds_without_use() -> None:
    daemon = Daemon()
    pool = spares(daemon, seconds=0.2)
    pool.make_ahead("shape", daemon.maker())
    deadline = time.monotonic() + 10
    while not daemon.removed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert daemon.removed == ["spare-0", "spare-0-volume"]
    assert pool.take("shape", 1, daemon.maker()) is None  # nothing left to take
    pool.close()


def test_spare_seconds_zero_makes_no_spare() -> None:
    daemon = Daemon()
    pool = spares(daemon, seconds=0)
    pool.make_ahead("shape", daemon.maker())
    assert pool.take("shape", 1, daemon.maker()) is None
    pool.close()
    assert daemon.made == []


def test_a_spare_the_daemon_could_not_make_is_logged_and_the_session_makes_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    daemon = Daemon()
    pool = spares(daemon)
    pool.make_ahead("shape", daemon.maker(fail=True))
    assert pool.take("shape", 1, daemon.maker(fail=True)) is None
    assert "a spare container could not be made: daemon says no" in caplog.text
    pool.close()
    assert daemon.removed == []
