"""Connector discovery through the ``winback.connectors`` entry-point group.

A third-party plugin is simulated the way pip would install it: a ``*.dist-info`` directory with an
``entry_points.txt`` on ``sys.path`` next to the plugin's module.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.plugin_dist import install_dist_info
from winback.connectors import registry
from winback.connectors.base import Connector
from winback.errors import ConnectorNotFoundError

PLUGIN_MODULE = "winback_test_plugin_mod"

PLUGIN_SOURCE = '''
from winback.connectors.base import Connector


class DummyConnector(Connector):
    platform = "dummyshop"


class NotAConnector:
    platform = "impostor"
'''


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    registry.clear_cache()
    yield
    registry.clear_cache()


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install a fake plugin distribution registering three platforms (one good, two broken)."""
    (tmp_path / f"{PLUGIN_MODULE}.py").write_text(PLUGIN_SOURCE)
    install_dist_info(monkeypatch, tmp_path, "winback_test_plugin", {"winback.connectors": {
        "dummyshop": f"{PLUGIN_MODULE}:DummyConnector",
        "impostor": f"{PLUGIN_MODULE}:NotAConnector",
        "vanished": "winback_test_plugin_missing_module:Gone",
    }})
    yield tmp_path
    sys.modules.pop(PLUGIN_MODULE, None)


def test_builtin_platforms_are_discovered_through_entry_points() -> None:
    platforms = registry.available_platforms()
    assert {"shopify", "ecwid"} <= set(platforms)
    assert platforms == sorted(platforms)
    registered = {ep.name: ep.value for ep in entry_points(group=registry.GROUP)}
    assert registered["shopify"] == "winback.connectors.shopify:ShopifyConnector"
    assert registered["ecwid"] == "winback.connectors.ecwid:EcwidConnector"


@pytest.mark.parametrize("platform", ["shopify", "ecwid"])
def test_builtin_connector_classes_load(platform: str) -> None:
    module_name, _, attr = {ep.name: ep.value for ep in entry_points(group=registry.GROUP)}[platform].partition(":")
    if not hasattr(importlib.import_module(module_name), attr):
        pytest.skip(f"{module_name}.{attr} is not written yet")
    cls = registry.load_connector_class(platform)
    assert issubclass(cls, Connector)
    assert cls.platform == platform


def test_plugin_is_discovered_after_clear_cache(plugin: Path) -> None:
    assert "dummyshop" in registry.available_platforms()
    cls = registry.load_connector_class("dummyshop")
    assert issubclass(cls, Connector)
    assert cls.__name__ == "DummyConnector" and cls.__module__ == PLUGIN_MODULE
    assert {"shopify", "ecwid"} <= set(registry.available_platforms())


def test_discovery_is_cached_until_cleared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> None:
    assert "dummyshop" not in registry.available_platforms()
    request.getfixturevalue("plugin")
    assert "dummyshop" not in registry.available_platforms()  # still the cached view
    registry.clear_cache()
    assert "dummyshop" in registry.available_platforms()


def test_unknown_platform_names_it_and_lists_what_is_installed() -> None:
    with pytest.raises(ConnectorNotFoundError) as caught:
        registry.load_connector_class("bigcommerce")
    message = str(caught.value)
    assert "'bigcommerce'" in message
    installed = registry.available_platforms()
    assert {"ecwid", "shopify"} <= set(installed)
    assert f"installed: {', '.join(installed)}" in message
    assert registry.GROUP in message


def test_entry_point_that_is_not_a_connector_is_refused(plugin: Path) -> None:
    with pytest.raises(ConnectorNotFoundError, match="not a winback Connector subclass") as caught:
        registry.load_connector_class("impostor")
    assert "impostor" in str(caught.value)


def test_entry_point_whose_module_is_missing_is_a_clear_error(plugin: Path) -> None:
    with pytest.raises(ConnectorNotFoundError) as caught:
        registry.load_connector_class("vanished")
    assert "'vanished'" in str(caught.value)
    assert "winback_test_plugin_missing_module" in str(caught.value)
    assert isinstance(caught.value.__cause__, ImportError)
