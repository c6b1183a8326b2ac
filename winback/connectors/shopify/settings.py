"""Settings of one Shopify store, validated at the edge (config file or mapping)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from winback.errors import SettingValueError

_SHOP_HANDLE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_API_VERSION = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

AuthMode = Literal["access-token", "client-credentials", "authorization-code"]
AUTH_MODES: tuple[str, ...] = ("access-token", "client-credentials", "authorization-code")
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8788/winback/callback"
DEFAULT_SCOPES = (
    "read_customers", "write_customers", "read_orders", "read_all_orders",
    "read_products", "read_discounts", "write_discounts",
)

MAX_PAGE_SIZE = 250
"""Shopify's ceiling for ``first`` on any connection."""


def normalise_shop(value: str) -> str:
    """``acme``, ``acme.myshopify.com`` or ``https://acme.myshopify.com/`` → ``acme.myshopify.com``.

    Raises ``ValueError`` with a message a merchant can act on for anything else (custom domains
    such as ``shop.acme.com`` are not accepted: the Admin API lives on the myshopify domain).
    """
    raw = value
    text = value.strip().lower()
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.split("/", 1)[0]
    if text.endswith(".myshopify.com"):
        text = text[: -len(".myshopify.com")]
    if not text or not _SHOP_HANDLE.match(text):
        raise ValueError(
            f"{raw!r} is not a Shopify shop: give the shop's myshopify domain, e.g. 'acme', "
            f"'acme.myshopify.com' or 'https://acme.myshopify.com' (custom domains do not work here)"
        )
    return f"{text}.myshopify.com"


class ShopifySettings(BaseModel):
    """How to reach one Shopify store.

    ``base_url`` overrides ``https://{shop}`` for emulators and compatible servers; the GraphQL
    endpoint is always ``{base}/admin/api/{api_version}/graphql.json``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    shop: str
    auth: AuthMode | None = None
    """How winback gets its token; left out, it follows from the keys given (see :attr:`auth_mode`)."""
    access_token: SecretStr | None = None
    """An admin-created app's ``shpat_…`` token, or the offline token ``winback connect`` saved."""
    client_id: str | None = None
    """The Dev Dashboard app's client ID (client credentials and authorization code grants)."""
    client_secret: SecretStr | None = None
    expiring_offline_access: bool = True
    """``winback connect`` asks for an expiring offline token (1 h, renewed with a refresh token that
    Shopify replaces on each use); Shopify requires them for public apps from 2027-01-01. ``false``
    keeps the legacy non-expiring token, for a custom app whose merchant needs it."""
    refresh_token: SecretStr | None = None
    """Saved by ``winback connect`` with an expiring token, and replaced in the secrets file by
    every renewal."""
    access_expires_at: datetime | None = None
    """When the saved expiring ``access_token`` expires (written by winback)."""
    refresh_expires_at: datetime | None = None
    """When the saved ``refresh_token`` expires (written by winback)."""
    redirect_uri: str = DEFAULT_REDIRECT_URI
    """Where ``winback connect`` receives the install callback; must be one of the app's redirect URLs."""
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    """Access scopes ``winback connect`` asks for on the install page."""
    webhook_secret: SecretStr | None = None
    """The app's client secret, which signs its webhooks (``X-Shopify-Hmac-Sha256``); a
    ``client_secret`` key, where accepted, serves too. Only ``winback serve`` needs it."""
    postal_address: str | None = None
    """The sender's postal address for the footer of marketing mail (CAN-SPAM), when the shop's
    own address should not be used."""
    birth_date_metafield: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{2,255}\.[A-Za-z0-9_-]{2,64}$")
    """``namespace.key`` of the customer metafield holding a birth date (type ``date``, e.g.
    ``facts.birth_date``), read with each customer when set, for the ``birthday`` rule."""
    api_version: str = "2026-07"
    base_url: str | None = None
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE
    bulk_threshold: int | None = 500
    """A full orders read uses a bulk export when ordersCount ≥ this; 0 = always, negative/None = never.

    Paged order reads with line items cost about 20 points per order, so on a standard plan
    (100 points/s) 500 orders already take ~100 s; a bulk export has a fixed cost of a few polls."""
    order_line_items: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 10
    """Line items fetched inside an orders page; the rest are fetched per order when an order has more."""
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    connect_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 6
    retry_base_delay_s: Annotated[float, Field(ge=0)] = 0.5
    max_throttle_retries: Annotated[int, Field(ge=0)] = 10
    """How many THROTTLED answers in a row one request may get before RateLimitedError."""
    bulk_poll_interval_s: Annotated[float, Field(gt=0)] = 1.0
    bulk_poll_max_interval_s: Annotated[float, Field(gt=0)] = 30.0
    bulk_timeout_s: Annotated[float, Field(gt=0)] = 6 * 3600.0

    @field_validator("shop")
    @classmethod
    def _shop(cls, value: str) -> str:
        return normalise_shop(value)

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.strip()
        if not _API_VERSION.match(value):
            raise ValueError(f"api_version {value!r} must look like YYYY-MM, e.g. '2026-07'")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url {value!r} must start with http:// or https://")
        return value

    @field_validator("redirect_uri")
    @classmethod
    def _redirect_uri(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError(f"redirect_uri {value!r} must be an http(s) URL without query or fragment")
        return value

    @model_validator(mode="after")
    def _one_auth_mode(self) -> ShopifySettings:
        """Exactly one way to get a token; each error names the key to change."""
        has_token = self.access_token is not None
        has_id, has_secret = self.client_id is not None, self.client_secret is not None
        mode = self.auth
        if self.refresh_token is not None and self.auth != "authorization-code":
            raise SettingValueError(
                'is only used with auth = "authorization-code" (written by `winback connect`): remove it',
                key="refresh_token",
            )
        if mode is None:
            if has_token and (has_id or has_secret):
                raise SettingValueError(
                    "access_token and client credentials are both set: keep access_token for an "
                    "admin-created app, or client_id and client_secret for a Dev Dashboard app; set "
                    'auth = "authorization-code" if the token came from `winback connect`',
                    key="client_id" if has_id else "client_secret",
                )
            if has_token or not (has_id or has_secret):
                return self  # no credentials: the connector asks for them (or takes a token provider)
            mode = "client-credentials"
        if mode == "access-token":
            if has_id or has_secret:
                raise SettingValueError(
                    'is not used with auth = "access-token": remove it, or choose another auth mode',
                    key="client_id" if has_id else "client_secret",
                )
            if not has_token:
                raise SettingValueError('required with auth = "access-token": add access_token = "${NAME}"', key="access_token")
            return self
        if not has_id:
            raise SettingValueError(f'required with auth = "{mode}": the app\'s client ID from the Dev Dashboard (app → Settings)', key="client_id")
        if not has_secret:
            raise SettingValueError(
                f'required with auth = "{mode}": the app\'s client secret, as "${{NAME}}" or in the secrets_file',
                key="client_secret",
            )
        if mode == "client-credentials" and has_token:
            raise SettingValueError(
                'is not used with client credentials: winback fetches short-lived tokens itself; remove it',
                key="access_token",
            )
        return self

    @property
    def auth_mode(self) -> str:
        """``access-token``, ``client-credentials`` or ``authorization-code``."""
        if self.auth is not None:
            return self.auth
        if self.access_token is None and (self.client_id is not None or self.client_secret is not None):
            return "client-credentials"
        return "access-token"

    @property
    def base(self) -> str:
        """``https://{shop}`` or ``base_url``: where the Admin API and the OAuth endpoints live."""
        return self.base_url or f"https://{self.shop}"

    @property
    def endpoint(self) -> str:
        base = self.base_url or f"https://{self.shop}"
        return f"{base}/admin/api/{self.api_version}/graphql.json"

    @property
    def bulk_enabled(self) -> bool:
        return self.bulk_threshold is not None and self.bulk_threshold >= 0
