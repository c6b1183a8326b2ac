"""The generated orders: each buyer's order times become orders with lines from the catalog,
shipping, cancellations, full and partial refunds, test orders, and checkout consent."""

from __future__ import annotations

import random
from decimal import Decimal

from winback.emulator import names
from winback.emulator.generate.catalog import Catalog
from winback.emulator.generate.clock import DAY, Clock
from winback.emulator.generate.people import People
from winback.emulator.world import WLine, WOrder

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_SHIPPING = {True: (Decimal("6.95"), Decimal("75")), False: (Decimal("14.95"), Decimal("150"))}
"""Domestic (US) and international shipping: (fee, free from this subtotal)."""


def build_orders(rng: random.Random, people: People, n_guestless: int, catalog: Catalog,
                 clock: Clock) -> list[WOrder]:
    events = [(ts, key) for key, times in enumerate(people.times, start=1) for ts in times]
    events.extend((clock.growth(rng), 0) for _ in range(n_guestless))
    events.sort()
    customers = people.customers
    orders: list[WOrder] = []
    line_key = 0
    dt = Clock.dt
    for index, (ts, ckey) in enumerate(events):
        if ckey:
            customer = customers[ckey - 1]
            email: str | None = customer.email
            billing = names.copy_address(people.addresses[ckey - 1]) if rng.random() < 0.95 else None
            accepts = _accepts(rng, customer.consent, people.consent_ts[ckey - 1], ts)
        else:
            if customers and rng.random() < 0.3:
                known = rng.randrange(len(customers))
                email, address = customers[known].email, names.copy_address(people.addresses[known])
            else:
                email, address = names.draw_person(rng, people.emails)[2:5:2]
            billing = address if rng.random() < 0.8 else None
            accepts = rng.random() < 0.25

        test = rng.random() < 0.005
        r = rng.random()
        kind = ("TEST" if test else "CANCELLED" if r < 0.02 else "REFUNDED" if r < 0.06
                else "PARTIAL" if r < 0.09 else "OPEN" if clock.now - ts < 14 * DAY and r < 0.25 else "PAID")
        r = rng.random()
        n_lines = 1 if r < 0.56 else 2 if r < 0.83 else 3 if r < 0.93 else 4 if r < 0.98 else 5
        lines: list[WLine] = []
        seen: set[int | None] = set()
        for _ in range(n_lines):
            r = rng.random()
            quantity = 1 if r < 0.86 else 2 if r < 0.96 else 3 if r < 0.99 else rng.randint(4, 6)
            line = catalog.line(rng, ts, line_key + 1, quantity)
            if line.product_key is not None and line.product_key in seen:
                continue
            seen.add(line.product_key)
            line_key += 1
            lines.append(line)
        if kind == "PARTIAL" and len(lines) == 1 and lines[0].quantity == 1:
            lines[0].quantity = 2
        subtotal = sum((line.unit_price * line.quantity for line in lines), _ZERO).quantize(_CENT)
        domestic = (billing.country_code if billing else "US") == "US"
        fee, free_from = _SHIPPING[domestic]
        total = subtotal + (_ZERO if subtotal >= free_from else fee)
        refunded, cancelled, status = _ZERO, None, "PAID"
        updated = clock.later(ts, 0, int(rng.random() ** 3 * 4 * DAY), rng)
        if kind == "TEST":
            status = "PENDING" if rng.random() < 0.2 else "PAID"
        elif kind == "OPEN":
            status = "PENDING" if rng.random() < 0.5 else "AUTHORIZED"
        elif kind == "CANCELLED":
            cancelled = clock.later(ts, DAY, 5 * DAY, rng)
            updated = cancelled
            status = "VOIDED" if rng.random() < 0.5 else "REFUNDED"
        elif kind == "REFUNDED":
            updated = clock.later(ts, 2 * DAY, 30 * DAY, rng)
            status = "REFUNDED"
        elif kind == "PARTIAL":
            updated = clock.later(ts, 3 * DAY, 45 * DAY, rng)
            status = "PARTIALLY_REFUNDED"
            line = rng.choice(lines)
            keep_one = len(lines) == 1
            line.refunded_quantity = rng.randint(1, line.quantity - 1 if keep_one else line.quantity)
            refunded = (line.unit_price * line.refunded_quantity).quantize(_CENT)
        if status == "REFUNDED":
            for line in lines:
                line.refunded_quantity = line.quantity
            refunded = total
        created = dt(ts)
        orders.append(WOrder(
            key=index + 1, number=1001 + index, customer_key=ckey or None, email=email,
            created_at=created, updated_at=dt(updated), processed_at=created,
            cancelled_at=None if cancelled is None else dt(cancelled), test=test,
            financial_status=status, lines=lines, subtotal=subtotal, total=total,
            refunded_amount=refunded, accepts_marketing=accepts, billing_address=billing))
    return orders


def _accepts(rng: random.Random, consent: str, consent_ts: int | None, ts: int) -> bool:
    """Whether the buyer ticked "email me" at this checkout, consistent with their consent today."""
    if consent == "SUBSCRIBED":
        return rng.random() < (0.95 if consent_ts is None or ts >= consent_ts else 0.4)
    if consent == "UNSUBSCRIBED":
        return consent_ts is not None and ts < consent_ts and rng.random() < 0.8
    if consent == "PENDING":
        return rng.random() < 0.6
    return rng.random() < 0.02
