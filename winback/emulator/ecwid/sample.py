"""A small hand-made :class:`World` for Ecwid tests: covers guests, consent, refunds, cancels.

Tests use :func:`winback.emulator.generate.generate_world` where it exists; this keeps the Ecwid
tests independent of the generator's tuning and fast.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from winback.emulator.world import WAddress, WCustomer, WLine, WOrder, WProduct, World

_CONSENTS = ("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED", "PENDING")
_STATUSES = ("PAID", "PAID", "PAID", "PENDING", "PARTIALLY_REFUNDED", "REFUNDED", "VOIDED")


def tiny_world(seed: int = 1, *, customers: int = 40, orders: int = 250, products: int = 12) -> World:
    rng = random.Random(seed)
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    start = now - timedelta(days=400)

    def when(after: datetime) -> datetime:
        span = max(1, int((now - after).total_seconds()) - 1)
        return after + timedelta(seconds=rng.randrange(span))

    prods = []
    for key in range(1, products + 1):
        created = when(start)
        prods.append(
            WProduct(
                key=key, title=f"Product {key}", handle=f"product-{key}", sku=f"SKU-{key:04d}",
                price=Decimal(rng.choice(["9.99", "0.10", "0.20", "19.90", "100.00", "3.33"])),
                image_url=f"https://img.example/{key}.jpg",
                status="ACTIVE" if key % 5 else "DRAFT",
                created_at=created, updated_at=when(created), popularity=1.0 / key,
            )
        )
    custs = []
    for key in range(1, customers + 1):
        created = when(start)
        addr = WAddress(
            first_name=f"First{key}", last_name=f"Last{key}", address1=f"{key} Main St", city="Springfield",
            province="Illinois", province_code="IL", country="United States", country_code="US", zip="62701",
            phone=f"+1555000{key:04d}" if key % 3 else None,
        ) if key % 4 else None
        custs.append(
            WCustomer(
                key=key, first_name=f"First{key}", last_name=f"Last{key}", email=f"buyer{key}@example.com",
                phone=None, created_at=created, updated_at=when(created), registered=key % 3 != 0,
                consent=_CONSENTS[key % len(_CONSENTS)], consent_updated_at=None, address=addr,
            )
        )
    ords = []
    for key in range(1, orders + 1):
        created = when(start)
        customer = rng.choice(custs) if key % 17 else None
        lines = []
        for index in range(rng.randint(1, 3)):
            product = rng.choice(prods)
            qty = rng.randint(1, 3)
            lines.append(
                WLine(key=key * 10 + index, product_key=product.key if key % 23 else None, title=product.title,
                      sku=product.sku, quantity=qty, refunded_quantity=0, unit_price=product.price)
            )
        subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
        status = rng.choice(_STATUSES)
        total = subtotal + Decimal("0.30")
        refunded = total if status == "REFUNDED" else (Decimal("0.10") if status == "PARTIALLY_REFUNDED" else Decimal("0"))
        updated = when(created)
        ords.append(
            WOrder(
                key=key, number=1000 + key, customer_key=customer.key if customer else None,
                email=customer.email if customer else f"guest{key}@example.com",
                created_at=created, updated_at=updated, processed_at=created,
                cancelled_at=updated if status == "VOIDED" else None, test=key % 41 == 0,
                financial_status=status, lines=lines, subtotal=subtotal, total=total,
                refunded_amount=refunded, accepts_marketing=bool(key % 2),
                billing_address=customer.address if customer else None,
            )
        )
    ords.sort(key=lambda o: o.created_at)
    return World(seed=seed, store_name="Tiny Test Store", currency="EUR", now=now,
                 products=prods, customers=custs, orders=ords)
