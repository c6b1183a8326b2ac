"""Discovery of plugin classes through entry-point groups, shared by connectors and rules.

One small object per group caches the group's entry points and loads a named one, checking that it
is a subclass of the expected base. Callers word the errors (a missing platform is a config
problem for a merchant, a missing rule is another), so this module only decides *which* problem
it is and hands back the facts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class PluginGroup(Generic[T]):
    """The classes registered under one entry-point ``group`` that subclass ``base``."""

    def __init__(self, group: str, base: type[T]) -> None:
        self.group = group
        self.base = base
        self._entry_points: Callable[[], dict[str, EntryPoint]] = cache(self._discover)

    def _discover(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        return sorted(self._entry_points())

    def entry_point(self, name: str) -> EntryPoint | None:
        return self._entry_points().get(name)

    def load(
        self,
        name: str,
        *,
        missing: Callable[[str, list[str]], Exception],
        broken: Callable[[EntryPoint, Exception], Exception],
        wrong_type: Callable[[EntryPoint], Exception],
    ) -> type[T]:
        """The class registered as ``name``; raises what the matching callback returns:
        ``missing(name, installed)``, ``broken(entry_point, import_error)`` or ``wrong_type(entry_point)``."""
        found = self.entry_point(name)
        if found is None:
            raise missing(name, self.names())
        try:
            cls = found.load()
        except (ImportError, AttributeError) as exc:
            raise broken(found, exc) from exc
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise wrong_type(found)
        return cls

    def clear_cache(self) -> None:
        """Forget discovered entry points (tests that install a plugin at run time call this)."""
        self._entry_points.cache_clear()  # type: ignore[attr-defined]
