"""What the rest of winback knows about Shopify: how ``init`` asks for a store, which scopes
the app needs and why, how to grant one, and the account mode to assume offline."""

from __future__ import annotations

from collections.abc import Mapping

from winback.connectors.base import AuthChoice, ConnectorProfile, InviteMode, Need

SCOPES = {
    "read_customers": "winback reads customers to find who to win back",
    "write_customers": "winback creates customer accounts, sends account invites and tags customers with their VIP tier",
    "read_orders": "orders say who bought what and when",
    "read_all_orders": "orders older than 60 days are invisible without it",
    "read_products": "bestseller emails need the product catalogue",
    "write_discounts": "winback creates the discount codes offered in emails",
    "read_discounts": "winback looks up discount codes before creating them",
}

NEED_SCOPES: Mapping[Need, str] = {
    Need.READ_ORDERS: "read_orders",
    Need.READ_PRODUCTS: "read_products",
    Need.READ_CUSTOMERS: "read_customers",
    Need.READ_DISCOUNT_CODES: "read_discounts",
    Need.CREATE_DISCOUNT_CODES: "write_discounts",
    Need.CREATE_CUSTOMERS: "write_customers",
}
"""Each platform-neutral need as the Shopify scope that grants it (a ``write_`` scope implies its
``read_`` one on Shopify)."""

SCOPE_REMEDY = (
    "add the {scope} scope to the app: {reason}. Dev Dashboard app (2026): in the Dev Dashboard open the "
    "app's Versions and release a new version whose access scopes include it, then have the merchant approve "
    "the updated scopes on {store} (auth = \"authorization-code\": run `winback connect` again; client credentials: the next "
    "token carries it). An app created in the Shopify admin before 2026: add it under the app's "
    "Configuration → Admin API access scopes and save"
)
"""How a missing Shopify scope is granted since admin-created apps ended (see API_NOTES)."""

AUTH_CHOICES = (
    AuthChoice(
        name="access-token",
        question="an app created in the Shopify admin before 2026, with its Admin API access token (shpat_...)",
    ),
    AuthChoice(
        name="client-credentials",
        question="a Dev Dashboard app installed on a store of your own organization (client ID and secret)",
        store_lines=(
            'auth = "client-credentials"            # winback asks Shopify for 24 h tokens itself',
            'client_id = "{client_id}"',
            'client_secret = "${{{secret_env}}}"',
        ),
        needs_client_id=True,
        exports=("secret_env",),
    ),
    AuthChoice(
        name="authorization-code",
        question="an agency's Dev Dashboard app to install on a client's store (winback connect)",
        store_lines=(
            'auth = "authorization-code"            # `winback connect` installs the app and saves the token',
            'client_id = "{client_id}"',
            'client_secret = "${{{secret_env}}}"',
            '# redirect_uri = "http://127.0.0.1:8788/winback/callback"  # must be an allowed redirection URL of the app',
            "# access_token is read from the secrets file, where `winback connect` saves it (an expiring",
            "# token with its refresh_token, renewed by every run; expiring_offline_access = false keeps",
            "# the legacy non-expiring token, refused for public apps from 2027-01-01)",
        ),
        needs_client_id=True,
        exports=("secret_env",),
        secrets_file=True,
        next_step="winback connect --config {config}",
    ),
)

SHOPIFY = ConnectorProfile(
    display_name="Shopify",
    store_setting="shop",
    store_prompt="Shop domain (acme.myshopify.com)",
    store_comment="the myshopify domain (not a custom domain)",
    credential_setting="access_token",
    credential_comment="Admin API token of the app installed on the shop",
    scopes=SCOPES,
    scope_remedy=SCOPE_REMEDY,
    # Legacy (classic) customer accounts are closed to new stores since February 2026: buyers sign
    # in with a one-time code, nothing to invite. A live check reads the shop's own setting.
    offline_invite_mode=InviteMode.NOT_NEEDED,
    config_notes=(
        "# The app needs the scopes read_customers, write_customers, read_orders, read_all_orders,",
        "# read_products and write_discounts (`winback check` lists what is missing).",
        '# api_version = "2026-07"',
    ),
    config_stem="{handle}",
    token_env="{HANDLE}_SHOPIFY_TOKEN",
    auth_choices=AUTH_CHOICES,
)
