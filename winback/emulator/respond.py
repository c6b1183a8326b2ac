"""The emulated stores' customers respond to winback: some reminded customers come back.

A customer who was sent a reminder places an order within ``within_days`` with probability
``p_sent``; a held-out customer (no message) with the lower ``p_held`` — the baseline of people who
would have come back anyway. A returning customer who was given a discount code uses it with
probability ``p_redeem`` (the order carries the code and costs 10 % less). Every draw comes from
a SHA-256 of the seed and the customer's address, so the same seed gives the same orders whatever
order the reminders come in. Nothing here knows the answer the report should find: the report
computes the lift from the orders these draws produce.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from winback.emulator.world import WLine, WOrder, World

P_SENT = 0.35
P_HELD = 0.12
P_REDEEM = 0.8
WITHIN_DAYS = 28


@dataclass(frozen=True, slots=True)
class Reminder:
    """One ledger row as the customer experienced it."""

    email: str
    at: datetime
    """When the message went out (for a held-out customer: when it would have)."""
    held_out: bool
    code: str | None = None


def _rng(seed: int, email: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x1f{email.strip().lower()}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def responses(
    world: World,
    reminders: Iterable[Reminder],
    *,
    seed: int,
    p_sent: float = P_SENT,
    p_held: float = P_HELD,
    p_redeem: float = P_REDEEM,
    within_days: int = WITHIN_DAYS,
) -> list[WOrder]:
    """The orders the reminded and held-out customers place, oldest first, numbered after the
    world's own orders."""
    by_email = {c.email.strip().lower(): c for c in world.customers}
    products = [p for p in world.products if p.status == "ACTIVE"] or list(world.products)
    next_key = max((o.key for o in world.orders), default=0) + 1
    next_number = max((o.number for o in world.orders), default=1000) + 1
    placed: list[WOrder] = []
    for reminder in sorted(reminders, key=lambda r: r.email.lower()):
        rng = _rng(seed, reminder.email)
        if rng.random() >= (p_held if reminder.held_out else p_sent):
            continue
        when = (reminder.at + timedelta(days=rng.uniform(0.5, within_days))).replace(microsecond=0)
        lines = []
        for n, product in enumerate(rng.sample(products, k=min(len(products), rng.randint(1, 2)))):
            lines.append(WLine(key=n + 1, product_key=product.key, title=product.title, sku=product.sku,
                               quantity=1, refunded_quantity=0, unit_price=product.price))
        subtotal = sum((line.unit_price for line in lines), Decimal("0"))
        codes = [reminder.code] if reminder.code and not reminder.held_out and rng.random() < p_redeem else []
        total = (subtotal * Decimal("0.9")).quantize(Decimal("0.01")) if codes else subtotal
        customer = by_email.get(reminder.email.strip().lower())
        placed.append(WOrder(
            key=next_key, number=next_number, customer_key=customer.key if customer else None,
            email=reminder.email, created_at=when, updated_at=when, processed_at=when, cancelled_at=None,
            test=False, financial_status="PAID", lines=lines, subtotal=subtotal, total=total,
            refunded_amount=Decimal("0"), accepts_marketing=True,
            billing_address=customer.address if customer else None, discount_codes=codes,
        ))
        next_key += 1
        next_number += 1
    return sorted(placed, key=lambda o: (o.created_at, o.key))
