"""Who may push releases out, and where (core.pushout, config.ServerOptions)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from devpi_policy.config import PushOut, ServerOptions
from devpi_policy.core.pushout import PushOutRequest, push_out_problem, url_allowed

URL = "https://upload.example/legacy/"


def _asked(*, user: str | None = "alice", is_owner: bool = True) -> PushOutRequest:
    return PushOutRequest(index="team/src", url=URL, user=user, is_owner=is_owner)


@pytest.mark.parametrize(
    ("mode", "asked", "refused"),
    [
        ("readers", _asked(user=None, is_owner=False), False),
        ("owners", _asked(), False),
        ("owners", _asked(user="mallory", is_owner=False), True),
        ("nobody", _asked(), True),
    ],
    ids=["readers-anonymous", "owners-owner", "owners-reader", "nobody-owner"],
)
def test_modes(mode: PushOut, asked: PushOutRequest, refused: bool) -> None:
    assert (push_out_problem(mode, (), asked) is not None) is refused


def test_listed_urls_only() -> None:
    assert push_out_problem("readers", ("https://upload.example/legacy",), _asked()) is None
    problem = push_out_problem("readers", ("https://other.example/",), _asked())
    assert problem == (
        "alice may not push releases of team/src out to 'https://upload.example/legacy/': "
        "this server pushes out only to https://other.example/"
    )


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://upload.example/legacy", True),
        ("https://upload.example/legacy/sub/", True),
        ("HTTPS://Upload.Example/legacy/", True),
        ("http://upload.example/legacy/", False),
        ("https://upload.example/legacy2/", False),
        ("https://upload.example:444/legacy/", False),
    ],
)
def test_url_prefixes_on_segment_boundaries(url: str, allowed: bool) -> None:
    assert url_allowed(url, ("https://upload.example/legacy/",)) is allowed


def test_server_options_from_args() -> None:
    assert ServerOptions.from_args(SimpleNamespace()) == ServerOptions()
    args = SimpleNamespace(policy_push_out="owners", policy_push_out_url=["https://x/"])
    assert ServerOptions.from_args(args) == ServerOptions("owners", ("https://x/",))
    assert ServerOptions.from_args(SimpleNamespace(policy_push_out="bogus")).push_out == "nobody"
