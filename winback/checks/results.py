"""What a check returns: one :class:`CheckItem` per line of the checklist, gathered per client in a
:class:`ClientCheck`. Plain data, so ``winback check`` can print it or dump it as JSON, and every
check module can build it without importing the others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


CONFIG_CHECKS = ("templates",)
"""Checks whose failure is a configuration error (exit status 2)."""


class Status(StrEnum):
    OK = "ok"
    FAIL = "fail"
    SKIPPED = "skipped"
    """Not checked because an earlier check it depends on failed."""


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One line of the checklist."""

    name: str
    """``config``, ``secrets``, ``rules``, ``templates``, ``connect``, ``access``, ``capabilities``,
    ``email``, ``database``."""
    status: Status
    detail: str
    fixes: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    """Structured facts for ``--json`` (missing scopes, invite mode, ...)."""

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


@dataclass(slots=True)
class ClientCheck:
    client: str
    path: str
    platform: str
    store: str
    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.status is Status.OK for item in self.items)

    @property
    def config_error(self) -> bool:
        """A failed check of what the merchant wrote (templates): exit status 2, like a bad config."""
        return any(item.name in CONFIG_CHECKS and item.status is Status.FAIL for item in self.items)

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "path": self.path,
            "platform": self.platform,
            "store": self.store,
            "ok": self.ok,
            "checks": [{**asdict(item), "fixes": list(item.fixes), "ok": item.ok} for item in self.items],
        }

