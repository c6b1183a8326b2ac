"""What an Ecwid token can reach, found out without writing anything.

No Ecwid call lists a token's scopes, and a new custom app's token reaches orders and products
only (Ecwid adds other scopes on request). So read scopes are probed with a ``limit=1`` GET each,
once per connector, and create scopes stay unknown until a create is refused with 403, which is
remembered for the connector's life. The scope table itself is the profile's
(:mod:`winback.connectors.ecwid.profile`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from winback import errors
from winback.connectors.base import AccessReport, ConnectorProfile, Need
from winback.connectors.ecwid.profile import READ_PROBES, SCOPES, WRITE_SCOPES
from winback.connectors.http import HttpClient

T = TypeVar("T")

NEED_SCOPES: Mapping[Need, str] = {
    Need.READ_ORDERS: "read_orders",
    Need.READ_PRODUCTS: "read_catalog",
    Need.READ_CUSTOMERS: "read_customers",
    Need.READ_DISCOUNT_CODES: "read_discount_coupons",
    Need.CREATE_DISCOUNT_CODES: "create_discount_coupons",
    Need.CREATE_CUSTOMERS: "create_customers",
    Need.UPDATE_CUSTOMERS: "update_customers",
}
"""Each platform-neutral need as the Ecwid scope that grants it."""

_WRITE_READS = (
    (Need.CREATE_DISCOUNT_CODES, Need.READ_DISCOUNT_CODES),
    (Need.CREATE_CUSTOMERS, Need.READ_CUSTOMERS),
    (Need.UPDATE_CUSTOMERS, Need.READ_CUSTOMERS),
)
"""A create first looks the record up (at most once), so it needs the read scope too."""


class ScopeProbe:
    """The token's reach for one connector: probes cached, refusals remembered."""

    def __init__(self, http: HttpClient, store_label: str, profile: ConnectorProfile) -> None:
        self._http = http
        self._store_label = store_label
        self._profile = profile
        self._probed: dict[str, bool] = {}
        self.refused: set[str] = set()
        """Scopes a write was refused for (403): write scopes cannot be probed."""

    async def reaches(self, scope: str) -> bool:
        """GET the scope's endpoint with ``limit=1``; a 403 naming no bad token means the scope is
        missing. Any other failure is raised: nothing can be judged."""
        if scope not in self._probed:
            path = READ_PROBES[scope]
            params = {} if path == "/profile" else {"limit": 1}
            response = await self._http.request("GET", path, params=params, idempotent=True, raise_for_status=False)
            if not response.is_success:
                error = self._http.error_for(response)
                # Ecwid answers 403 for a wrong token too ("Invalid token"): then the merchant
                # must replace the token, and no scope can be judged.
                if response.status_code != 403 or isinstance(error, errors.AuthenticationError):
                    raise error
            self._probed[scope] = response.is_success
        return self._probed[scope]

    def lacks(self, scope: str) -> str:
        return f"{self._store_label}'s token lacks the {scope} scope. {self._profile.scope_fix(scope, self._store_label)}"

    async def unreachable(self) -> dict[str, str]:
        """:class:`Need` values out of the token's reach, each with why and the remedy."""
        out: dict[str, str] = {}
        for need, scope in NEED_SCOPES.items():
            if (scope in READ_PROBES and not await self.reaches(scope)) or scope in self.refused:
                out[need.value] = self.lacks(scope)
        for write, read in _WRITE_READS:
            if read.value in out and write.value not in out:
                out[write.value] = out[read.value]
        return out

    async def report(self) -> AccessReport:
        """Read scopes probed; create scopes ``unknown`` unless a create was refused."""
        granted = {scope for scope in READ_PROBES if await self.reaches(scope)}
        return AccessReport(granted=frozenset(granted), required=frozenset(SCOPES),
                            unknown=frozenset(WRITE_SCOPES - self.refused))

    async def noting_refusal(self, scope: str, write: Callable[[], Awaitable[T]]) -> T:
        """Run ``write``; a 403 for a missing scope is remembered, then raised."""
        try:
            return await write()
        except errors.MissingScopeError as exc:
            self.refused.add(exc.scope or scope)
            raise
