"""What the rest of winback knows about Ecwid: how ``init`` asks for a store, which access
scopes the token needs and why, how to grant one, and the account mode to assume offline."""

from __future__ import annotations

from winback.connectors.base import ConnectorProfile, InviteMode

SCOPES = {
    "read_store_profile": "the store's name, currency and URL come from its profile",
    "read_orders": "orders say who bought what and when",
    "read_catalog": "bestseller emails need the product catalogue",
    "read_customers": "winback reads customers to find who to win back and who may be emailed",
    "read_discount_coupons": "winback looks up coupons before creating them, so none is made twice",
    "create_discount_coupons": "winback creates the discount codes offered in emails",
    "create_customers": "auto_create_accounts creates an account where Ecwid did not make one; vip_tiers "
    "creates a tier's customer group the first time (unless the merchant made it)",
    "update_customers": "vip_tiers moves customers into their tier's customer group, and unsubscribes reach Ecwid",
}
"""Every Ecwid scope winback may use, with why: the one table ``check``, the error messages and the
README's scope table come from."""

READ_PROBES = {
    "read_store_profile": "/profile",
    "read_orders": "/orders",
    "read_catalog": "/products",
    "read_customers": "/customers",
    "read_discount_coupons": "/discount_coupons",
}
"""Read scopes and the endpoint ``check`` probes for each (``limit=1``, read-only)."""

WRITE_SCOPES = frozenset(SCOPES) - frozenset(READ_PROBES)
"""Scopes only a write can reveal: Ecwid has no call listing a token's scopes."""

DEFAULT_SCOPES = frozenset({"read_store_profile", "read_orders", "read_catalog"})
"""What a new custom app's token reaches (orders and products; the profile is always granted)."""

SCOPE_REMEDY = (
    "A new token or reinstalling the app does not add a scope: a custom app's scopes are set by "
    "Ecwid, so ask Ecwid (Ecwid admin → Apps → My apps → the app's Details shows the current ones) "
    "to add {scope} to the app"
)
"""How a missing Ecwid scope is really granted (api-docs.ecwid.com/reference/customizations-for-a-single-store)."""

ECWID = ConnectorProfile(
    display_name="Ecwid",
    store_setting="store_id",
    store_prompt="Ecwid store id",
    store_comment="the number in the Ecwid admin URL",
    credential_setting="token",
    credential_comment="the app's secret token (secret_...)",
    scopes=SCOPES,
    scope_remedy=SCOPE_REMEDY.replace("to add {scope} to the app", "to add {scope} to the app for {store}")
    + ": {reason}",
    # Ecwid creates an account for every buyer's email after an order; sign-in is by one-time link.
    offline_invite_mode=InviteMode.NOT_NEEDED,
    config_notes=(
        "# A new custom app's token reaches orders and products only. Customers and coupons",
        "# (read_customers, read_discount_coupons, create_discount_coupons) are added by Ecwid on",
        "# request; `winback check` names what is missing.",
    ),
)


def normalise_store_id(value: str) -> str:
    value = value.strip()
    if not value.isdigit():
        raise ValueError(f"{value!r} is not an Ecwid store id: give the number from the Ecwid admin URL")
    return value
