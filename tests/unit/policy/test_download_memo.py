"""Download decisions memoised per keyfs serial (devpi_policy.adapters.files), with a
stand-in for devpi's xom: the memo must never outlive the options it was computed from."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker, PluginManager

from devpi_policy import hookspecs
from devpi_policy.adapters import files, policy
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
        self.filestore = SimpleNamespace(get_file_entry=self.get_file_entry)
        self.loads = 0
        manager = PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        for plugin in plugins:
            manager.register(plugin)
        self.singletons: dict[tuple[str, str], Any] = {("+devpi-policy", "plugins"): manager}

    def getstage(self, name: str) -> Any:
        self.loads += 1
        return SimpleNamespace(name=name, ixconfig=dict(self.options), xom=self)

    @staticmethod
    def get_file_entry(relpath: str) -> Any:
        """An entry for ``user/index/+f/a/b/name``, none for anything else."""
        parts = relpath.split("/")
        if len(parts) != 6 or parts[2] != "+f":
            return None
        name, version = parts[5].split("-")[:2]
        return SimpleNamespace(meta={"x": 1}, user=parts[0], index=parts[1],
                               basename=parts[5], project=name, version=version)  # fmt: skip

    def setdefault_singleton(self, indexpath: str, key: str, *, factory: Any) -> Any:
        if (indexpath, key) not in self.singletons:
            self.singletons[indexpath, key] = factory()
        return self.singletons[indexpath, key]

    def at(self, serial: int, *, write: bool = False) -> None:
        self.keyfs.tx = SimpleNamespace(at_serial=serial, write=write)


def download(xom: FakeXom, cache: PolicyCache, filename: str, spelling: str = "") -> Any:
    """The decision on team/prod's file ``filename``, with the memo asked first as the
    file view does; ``spelling`` is appended to the URL path."""
    relpath = files.entry_relpath(f"/team/prod/+f/abc/def/{filename}{spelling}")
    found = files.memoised(xom, cache, relpath)
    return files.decide_file(xom, cache, relpath) if found is files.NOT_MEMOISED else found


def test_repeated_download_at_one_serial_is_answered_from_the_memo() -> None:
    xom, cache = FakeXom({"policy_exclude": ["evil-*"]}), PolicyCache()
    first = download(xom, cache, EVIL)
    assert not first.allowed
    assert download(xom, cache, EVIL) is first
    assert download(xom, cache, EVIL, "/") is first  # the same entry, however spelled
    assert download(xom, cache, EVIL, ".metadata#x") is first
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


def test_a_url_that_resolves_to_no_entry_is_not_memoised() -> None:
    xom, cache = FakeXom({"policy_exclude": ["evil-*"]}), PolicyCache()
    assert download(xom, cache, EVIL, "/extra") is files.UNRESOLVED
    assert files.memoised(xom, cache, f"team/prod/+f/abc/def/{EVIL}/extra") is files.NOT_MEMOISED
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
    monkeypatch.setattr(files, "MEMO_SIZE", 3)
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


class FakeStage:
    """A stage whose inheritance walk is counted."""

    def __init__(self, xom: FakeXom, name: str) -> None:
        self.xom, self.name, self.walks = xom, name, 0
        self.ixconfig = dict(xom.options)

    def sro(self) -> list[Any]:
        self.walks += 1
        return [self]


def _with_sro_skip(xom: FakeXom, impls: list[object]) -> FakeXom:
    hook = SimpleNamespace(devpiserver_sro_skip=SimpleNamespace(get_hookimpls=lambda: impls))
    xom.config = SimpleNamespace(hook=hook)  # type: ignore[attr-defined]
    return xom


def test_serving_path_is_walked_once_per_serial() -> None:
    xom = _with_sro_skip(FakeXom({"policy_exclude": ["evil-*"]}), [])
    stage = FakeStage(xom, "team/prod")
    first = policy.serving_path(stage)
    assert policy.serving_path(stage) is first
    assert stage.walks == 1
    xom.at(2)
    assert policy.serving_path(stage) == first
    assert stage.walks == 2
    xom.at(3, write=True)  # a write may change bases or options: never memoised
    policy.serving_path(stage)
    policy.serving_path(stage)
    assert stage.walks == 4


def test_serving_path_is_not_memoised_when_a_plugin_skips_bases() -> None:
    xom = _with_sro_skip(FakeXom({}), [object()])  # its answer may depend on the request
    stage = FakeStage(xom, "team/prod")
    policy.serving_path(stage)
    policy.serving_path(stage)
    assert stage.walks == 2
