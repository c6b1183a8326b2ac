"""Find connectors through the ``winback.connectors`` entry-point group.

The built-in Shopify and Ecwid connectors are registered in ``pyproject.toml`` exactly as a
third-party plugin package would register its own, so there is one code path for all of them.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint

from winback.connectors.base import Connector
from winback.errors import ConnectorNotFoundError
from winback.plugins import PluginGroup

GROUP = "winback.connectors"
_connectors: PluginGroup[Connector] = PluginGroup(GROUP, Connector)


def available_platforms() -> list[str]:
    return _connectors.names()


def load_connector_class(platform: str) -> type[Connector]:
    """The connector class registered for ``platform``; a clear error if none is installed."""

    def missing(name: str, installed: list[str]) -> Exception:
        return ConnectorNotFoundError(
            f"no connector is installed for platform {name!r} (installed: {', '.join(installed) or 'none'}); "
            f"install a package that registers one under the {GROUP!r} entry-point group"
        )

    def broken(found: EntryPoint, exc: Exception) -> Exception:
        return ConnectorNotFoundError(
            f"the connector for platform {platform!r} is registered as {found.value!r} but could not be "
            f"loaded ({type(exc).__name__}: {exc}); reinstall the package that provides it"
        )

    def wrong_type(found: EntryPoint) -> Exception:
        return ConnectorNotFoundError(
            f"entry point {found.value!r} for platform {platform!r} is not a winback Connector subclass"
        )

    return _connectors.load(platform, missing=missing, broken=broken, wrong_type=wrong_type)


def clear_cache() -> None:
    """Forget discovered entry points (tests that install a plugin at run time call this)."""
    _connectors.clear_cache()
