"""A made-up customer and store for rendering a rule's emails before any real one is sent.

``winback check`` and the start of ``winback run`` ask every enabled rule for the actions it would
plan for this customer (:meth:`winback.rules.base.Rule.sample_actions`) and render their emails
with the client's own templates and settings. A template with a syntax error, a missing include
or a loop that never ends is then one clear problem for that client, found before a discount code
is created or an email is sent, instead of one failure per customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from winback.rules.base import StoreFacts
from winback.rules.queries import Bestseller

SAMPLE_EMAIL = "ada.lovelace@example.com"


@dataclass(frozen=True, slots=True)
class SampleBuyer:
    """A row with the columns the built-in rules' audiences select, for a loyal lapsed buyer."""

    email: str
    lower_email: str
    customer_id: str | None
    first_name: str | None
    last_name: str | None
    billing_address: dict[str, Any] | None
    first_order_at: datetime
    last_order_at: datetime
    last_order_id: str
    real_orders_count: int
    real_amount_spent: Decimal


def sample_buyer(now: datetime) -> SampleBuyer:
    return SampleBuyer(
        email=SAMPLE_EMAIL,
        lower_email=SAMPLE_EMAIL,
        customer_id="sample-customer",
        first_name="Ada",
        last_name="Lovelace",
        billing_address=None,
        first_order_at=now - timedelta(days=600),
        last_order_at=now - timedelta(days=200),
        last_order_id="sample-order",
        real_orders_count=4,
        real_amount_spent=Decimal("254.90"),
    )


def sample_facts(name: str, platform: str, store_key: str, *, email: str | None = None) -> StoreFacts:
    """The store as a template sees it, when the local store has not been synced yet."""
    return StoreFacts(
        store_key=store_key,
        platform=platform,
        name=name,
        currency="USD",
        url="https://shop.example.com",
        timezone="UTC",
        logo_url=None,
        email=email or "hello@shop.example.com",
    )


def sample_bestsellers(count: int) -> list[Bestseller]:
    return [
        Bestseller(
            id=f"sample-product-{n}", title=f"Sample product {n}", url=f"https://shop.example.com/products/{n}",
            image_url=None, price=Decimal("19.90") + n, currency=None, units=100 - n,
        )
        for n in range(1, count + 1)
    ]
