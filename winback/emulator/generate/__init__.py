"""The deterministic seeded store behind both emulators.

:func:`generate_world` fills a :class:`~winback.emulator.world.World` with a few years of retail
history shaped like a real small brand: most buyers order once, a few order often (some monthly),
about 40% of buyers check out as guests, consent is mixed, a handful of orders are cancelled,
refunded, pending or test orders, and a few products sell far more than the rest.

Callers may rely on:

* determinism — the only randomness is one ``random.Random(seed)`` and the clock is ``now``
  (fixed by default), so the same arguments give an equal world, field for field;
* keys — customers, products, orders and lines are keyed ``1..n``; customer and product keys grow
  with ``created_at`` (like platform ids), order keys with ``created_at`` and numbers are
  ``1000 + key``;
* invariants — ``updated_at >= created_at`` everywhere and nothing is after ``now``; a customer is
  created no later than their first order and updated no earlier than their last; a guest has at
  least one order; emails are unique, lower-case ASCII; product handles are unique; a product is
  created before its first sale and an archived product does not sell after it was archived;
  ``subtotal`` is the sum of the lines, ``total`` adds shipping, ``refunded_amount`` is ``total``
  for a full refund and the refunded units times their unit prices for a partial one.

The time line is :mod:`~.clock`; products :mod:`~.catalog`; customers and when they order
:mod:`~.people`; orders :mod:`~.orders`. They draw from one ``random.Random`` in a fixed order, so
moving code between them must keep the order of the draws.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timezone

from winback.emulator.fulfilment import fulfil
from winback.emulator.generate.catalog import Catalog
from winback.emulator.generate.clock import Clock
from winback.emulator.generate.orders import build_orders
from winback.emulator.generate.people import People
from winback.emulator.world import World

DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
"""The default "today" of a world; fixed so that a seed alone determines the world."""


def generate_world(seed: int = 1, *, customers: int = 2000, orders: int | None = None,
                   products: int = 120, years: float = 3.0, now: datetime | None = None,
                   currency: str = "USD", store_name: str = "Maple & Thread") -> World:
    """Build a store history of ``years`` ending at ``now`` (default :data:`DEFAULT_NOW`).

    ``orders`` is exact when given and about ``2.3 * customers`` otherwise. About 1% of orders
    have no customer at all (``customer_key is None``, email still set).
    """
    if customers < 0 or products < 0 or (orders is not None and orders < 0):
        raise ValueError("customers, orders and products must not be negative")
    if years <= 0:
        raise ValueError("years must be positive")
    now = DEFAULT_NOW if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(timezone.utc)
    n_orders = round(2.3 * customers) if orders is None else orders
    rng = random.Random(seed)
    clock = Clock(now, years)
    prefix = "".join(w[0] for w in re.findall(r"[A-Za-z]+", store_name)).upper()[:3] or "SKU"
    catalog = Catalog.build(rng, products, clock, prefix)
    n_guestless = n_orders if customers == 0 else round(n_orders * 0.01)
    people = People.build(rng, customers, n_orders - n_guestless, clock)
    world_orders = build_orders(rng, people, n_guestless, catalog, clock)
    fulfil(world_orders, now)
    return World(seed=seed, store_name=store_name, currency=currency, now=now,
                 products=catalog.products, customers=people.customers, orders=world_orders)


__all__ = ["DEFAULT_NOW", "generate_world"]
