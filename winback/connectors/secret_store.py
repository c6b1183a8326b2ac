"""The seam through which a connector keeps credentials that rotate.

Some platforms hand out credentials that change on every renewal (Shopify's expiring offline
tokens replace their refresh token each time). Losing the newest pair loses the store, so the
connector must save it before using it; where it goes (the client's secrets file) is the config
layer's business, above the connectors, so it comes in through this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["SecretStore"]


class SecretStore(Protocol):
    """Where rotated credentials are kept durably; the config layer passes the client's secrets file.

    ``write`` must be atomic and durable (fsync) before it returns: the caller uses the new
    credentials only after it returned. ``acquire``/``release`` is a lock across processes
    (blocking); it must be released by the death of the process that holds it.
    """

    def read(self) -> Mapping[str, Any]: ...

    def write(self, values: Mapping[str, str | None]) -> None:
        """Set each key to its value, or remove it when the value is ``None``; keep other keys."""

    def acquire(self) -> None: ...

    def release(self) -> None: ...
