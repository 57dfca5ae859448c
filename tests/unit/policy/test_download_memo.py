"""Download decisions memoised per keyfs serial (devpi_policy.adapters.requests), with a
stand-in for devpi's xom: the memo must never outlive the options it was computed from."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker, PluginManager

from devpi_policy import hookspecs
from devpi_policy.adapters import policy, requests
from devpi_policy.adapters.policy import PolicyCache

if TYPE_CHECKING:
    import pytest

hookimpl = HookimplMarker(hookspecs.PROJECT_NAME)
EVIL = "evil_pkg-1.0-py3-none-any.whl"
GOOD = "good-1.0-py3-none-any.whl"


class FakeXom:
    """What the download check uses of devpi's xom: keyfs.tx, model.getstage, singletons."""

    def __init__(self, options: dict[str, Any], *plugins: object) -> None:
        self.options = options
        self.keyfs = SimpleNamespace(tx=SimpleNamespace(at_serial=1, write=False))
        self.model = SimpleNamespace(getstage=self.getstage)
        self.loads = 0
        manager = PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        for plugin in plugins:
            manager.register(plugin)
        self.singletons: dict[tuple[str, str], Any] = {("+devpi-policy", "plugins"): manager}

    def getstage(self, name: str) -> Any:
        self.loads += 1
        return SimpleNamespace(name=name, ixconfig=dict(self.options), xom=self)

    def setdefault_singleton(self, indexpath: str, key: str, *, factory: Any) -> Any:
        if (indexpath, key) not in self.singletons:
            self.singletons[indexpath, key] = factory()
        return self.singletons[indexpath, key]

    def at(self, serial: int, *, write: bool = False) -> None:
        self.keyfs.tx = SimpleNamespace(at_serial=serial, write=write)


def download(xom: FakeXom, cache: PolicyCache, filename: str, method: str = "GET") -> Any:
    relpath = f"+f/abc/def/{filename}"
    matchdict = {"user": "team", "index": "prod", "relpath": relpath}
    request = SimpleNamespace(method=method, matchdict=matchdict, registry={"xom": xom})
    return requests.check_download(request, cache)


def test_repeated_download_at_one_serial_is_answered_from_the_memo() -> None:
    xom, cache = FakeXom({"policy_exclude": ["evil-*"]}), PolicyCache()
    first = download(xom, cache, EVIL)
    assert not first.allowed
    assert download(xom, cache, EVIL) is first
    assert download(xom, cache, EVIL, method="HEAD") is first
    assert download(xom, cache, GOOD).allowed
    assert xom.loads == 1  # the index policy was built once


def test_new_serial_with_new_options_is_not_served_stale() -> None:
    xom, cache = FakeXom({"policy_exclude": ["evil-*"]}), PolicyCache()
    assert not download(xom, cache, EVIL).allowed
    xom.options = {}
    assert not download(xom, cache, EVIL).allowed  # same serial: same options
    xom.at(2)
    assert download(xom, cache, EVIL) is None  # no rules any more
    xom.options = {"policy_exclude": ["evil-*"]}
    xom.at(3)
    assert not download(xom, cache, EVIL).allowed


def test_no_memo_in_a_write_transaction() -> None:
    xom, cache = FakeXom({"policy_exclude": ["evil-*"]}), PolicyCache()
    xom.at(1, write=True)
    assert not download(xom, cache, EVIL).allowed
    xom.options = {}
    assert download(xom, cache, EVIL) is None
    assert xom.loads == 2
    assert cache.memo(xom) is None


def test_other_methods_are_not_judged() -> None:
    xom, cache = FakeXom({"policy_exclude": ["evil-*"]}), PolicyCache()
    assert download(xom, cache, EVIL, method="DELETE") is None
    assert xom.loads == 0


class CountingPlugin:
    """A devpi_policy plugin with rules on every index; refuses files named in ``refused``."""

    def __init__(self) -> None:
        self.checks = 0
        self.refused: set[str] = set()

    @hookimpl
    def devpipolicy_has_rules(self) -> bool:
        return True

    @hookimpl
    def devpipolicy_check(self, subject: Any) -> list[str]:
        self.checks += 1
        return [f"{subject.filename} refused"] if subject.filename in self.refused else []


def test_plugin_rules_are_asked_every_time() -> None:
    plugin = CountingPlugin()
    xom, cache = FakeXom({}, plugin), PolicyCache()
    assert download(xom, cache, GOOD).allowed
    plugin.refused.add(GOOD)  # a plugin may answer from facts outside the index options
    assert not download(xom, cache, GOOD).allowed
    assert plugin.checks == 2


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requests, "MEMO_SIZE", 3)
    xom, cache = FakeXom({"policy_exclude": ["evil-*"]}), PolicyCache()
    for i in range(10):
        assert download(xom, cache, f"good-1.{i}-py3-none-any.whl").allowed
    assert not download(xom, cache, EVIL).allowed
    memo = cache.memo(xom)
    assert memo is not None
    assert len(memo) == 3


def test_policy_by_name_uses_the_server_cache() -> None:
    xom = FakeXom({"policy_exclude": ["evil-*"]})
    found = policy.policy_by_name(xom, "team/prod")
    assert found is not None
    assert found.rules.exclude
    assert policy.policy_by_name(xom, "team/prod") is found
    assert policy.policy_cache(xom) is xom.singletons["+devpi-policy", "policy-cache"]
