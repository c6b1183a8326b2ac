"""What the rest of winback knows about Ecwid: how ``init`` asks for a store, which access
scopes the token needs and why, how to grant one, and the account mode to assume offline."""

from __future__ import annotations

from winback.connectors.base import ConnectorProfile, InviteMode

SCOPES = {
    "read_store_profile": "the store's name, currency and URL come from its profile",
    "read_orders": "orders say who bought what and when",
    "read_customers": "winback reads customers to find who to win back",
    "read_catalog": "bestseller emails need the product catalogue",
    "read_discount_coupons": "winback looks up coupons before creating them",
    "create_discount_coupons": "winback creates the discount codes offered in emails",
}

ECWID = ConnectorProfile(
    display_name="Ecwid",
    store_setting="store_id",
    store_prompt="Ecwid store id",
    store_comment="the number in the Ecwid admin URL",
    credential_setting="token",
    credential_comment="the app's secret token (secret_...)",
    scopes=SCOPES,
    scope_remedy=(
        "give the app the {scope} access scope in Ecwid: {reason} (then reinstall it on {store} "
        "and put the new secret token in the config)"
    ),
    # Ecwid creates an account for every buyer's email after an order; sign-in is by one-time link.
    offline_invite_mode=InviteMode.NOT_NEEDED,
    config_notes=(
        "# The token needs read_store_profile, read_orders, read_customers, read_catalog and",
        "# read_discount_coupons; rules also need create_discount_coupons.",
    ),
)


def normalise_store_id(value: str) -> str:
    value = value.strip()
    if not value.isdigit():
        raise ValueError(f"{value!r} is not an Ecwid store id: give the number from the Ecwid admin URL")
    return value
