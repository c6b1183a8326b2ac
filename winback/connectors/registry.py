"""Find connectors through the ``winback.connectors`` entry-point group.

The built-in Shopify and Ecwid connectors are registered in ``pyproject.toml`` exactly as a
third-party plugin package would register its own, so there is one code path for all of them.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from winback.connectors.base import Connector
from winback.errors import ConnectorNotFoundError

GROUP = "winback.connectors"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_platforms() -> list[str]:
    return sorted(_entry_points())


def load_connector_class(platform: str) -> type[Connector]:
    """The connector class registered for ``platform``; a clear error if none is installed."""
    found = _entry_points().get(platform)
    if found is None:
        known = ", ".join(available_platforms()) or "none"
        raise ConnectorNotFoundError(
            f"no connector is installed for platform {platform!r} (installed: {known}); "
            f"install a package that registers one under the {GROUP!r} entry-point group"
        )
    try:
        cls = found.load()
    except (ImportError, AttributeError) as exc:
        raise ConnectorNotFoundError(
            f"the connector for platform {platform!r} is registered as {found.value!r} but could not be "
            f"loaded ({type(exc).__name__}: {exc}); reinstall the package that provides it"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConnectorNotFoundError(
            f"entry point {found.value!r} for platform {platform!r} is not a winback Connector subclass"
        )
    return cls


def clear_cache() -> None:
    """Forget discovered entry points (tests that install a plugin at run time call this)."""
    _entry_points.cache_clear()
