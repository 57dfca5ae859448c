"""Names every plugin shows to devpi follow devpi's conventions (style.md B3)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from devpi_buildfarm import config as buildfarm_config
from devpi_foundry_common.metrics import Metrics
from devpi_license import config as license_config
from devpi_policy import config as policy_config

if TYPE_CHECKING:
    from types import ModuleType

CONFIGS = {
    "policy": policy_config,
    "buildfarm": buildfarm_config,
    "license": license_config,
}


@pytest.mark.parametrize(("prefix", "config"), CONFIGS.items(), ids=list(CONFIGS))
def test_index_options_carry_the_plugin_prefix(prefix: str, config: ModuleType) -> None:
    assert config.DEFAULTS
    assert all(key.startswith(f"{prefix}_") for key in config.DEFAULTS)
    assert all(re.fullmatch(r"[a-z_]+", key) for key in config.DEFAULTS)


@pytest.mark.parametrize(("prefix", "config"), CONFIGS.items(), ids=list(CONFIGS))
def test_metrics_are_valid_and_prefixed(prefix: str, config: ModuleType) -> None:
    metrics = Metrics(config.METRICS_PREFIX, counters=config.COUNTERS, gauges=config.GAUGES)
    names = [name for name, _, _ in metrics.as_devpi_metrics()]
    assert names
    assert all(name.startswith(f"devpi_{prefix}_") for name in names)
    assert all(
        name.endswith("_total")
        for name in names
        if name.removeprefix(f"devpi_{prefix}_") in config.COUNTERS
    )


def test_option_names_do_not_clash_between_plugins() -> None:
    keys = [key for config in CONFIGS.values() for key in config.DEFAULTS]
    assert len(keys) == len(set(keys))


def test_features_are_distinct() -> None:
    features = {config.FEATURE for config in CONFIGS.values()}
    assert features == {"devpi-policy", "devpi-buildfarm", "devpi-license"}
