"""Settings of one Shopify store, validated at the edge (config file or mapping)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_SHOP_HANDLE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_API_VERSION = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

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
    access_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    """The app's client secret, which signs its webhooks (``X-Shopify-Hmac-Sha256``); a
    ``client_secret`` key, where accepted, serves too. Only ``winback serve`` needs it."""
    postal_address: str | None = None
    """The sender's postal address for the footer of marketing mail (CAN-SPAM), when the shop's
    own address should not be used."""
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

    @property
    def endpoint(self) -> str:
        base = self.base_url or f"https://{self.shop}"
        return f"{base}/admin/api/{self.api_version}/graphql.json"

    @property
    def bulk_enabled(self) -> bool:
        return self.bulk_threshold is not None and self.bulk_threshold >= 0
