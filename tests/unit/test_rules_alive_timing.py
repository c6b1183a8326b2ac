"""``timing = "p_alive"``: back_to_bestsellers reminds a repeat buyer once the BG/NBD probability
that they are still active falls below the threshold; the SQL closed form agrees with the model's
own formula buyer by buyer; thin stores fall back to after_days and say so."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from tests.unit.test_rules_builtin_support import NOW, Shop
from winback.rules.alive import AliveModel, fit_alive
from winback.rules.back_to_bestsellers import BackToBestsellers


def populate(shop: Shop, buyers: int = 160) -> dict[str, int]:
    """One-time and repeat buyers with varied rhythms; returns real order counts by email."""
    rng = random.Random(7)
    records: list = [shop.product("p1"), shop.product("p2")]
    counts: dict[str, int] = {}
    for n in range(buyers):
        name = f"b{n:03d}"
        records.append(shop.customer(name))
        last = rng.uniform(3, 500)
        orders = 1 if n % 2 else rng.randint(2, 7)
        gap = rng.uniform(15, 120)
        for k in range(orders):
            records.append(shop.order(f"o-{name}-{k}", last + gap * (orders - 1 - k), customer_id=name,
                                      email=f"{name}@example.com"))
        counts[f"{name}@example.com"] = orders
    shop.put(*records)
    return counts


def test_p_alive_timing_matches_the_model_buyer_by_buyer(any_store):
    shop = Shop(any_store)
    counts = populate(shop)
    rule = BackToBestsellers({"timing": "p_alive", "p_alive_below": 0.5, "after_days": 180, "max_age_days": 2000})
    with any_store.reading() as conn:
        model = fit_alive(conn, shop.key, NOW, 0.5)
    assert isinstance(model, AliveModel)

    actions = shop.plan(rule)
    chosen = {a.email for a in actions}
    assert all(a.variant == "p_alive" for a in actions)
    repeaters = [a for a in actions if counts[a.email] >= 2]
    assert repeaters and all("P(still active) 0." in a.reason and "< 0.50 (BG/NBD" in a.reason for a in repeaters)
    one_timers = [a for a in actions if counts[a.email] == 1]
    assert one_timers and all("timed by after_days" in a.reason for a in one_timers)

    rows = shop.store.engine.connect()
    try:
        from sqlalchemy import select

        from winback.sync import tables

        b = tables.buyers
        found = rows.execute(select(b.c.lower_email, b.c.real_orders_count, b.c.first_order_at, b.c.last_order_at)
                             .where(b.c.store_key == shop.key)).all()
    finally:
        rows.close()
    checked = 0
    for email, count, first, last in found:
        if count < 2 or (NOW - last).days < rule.options.cadence_min_days:
            continue
        probability = model.probability(count, first, last, NOW)
        if abs(probability - 0.5) < 1e-6:
            continue
        assert (email in chosen) == (probability < 0.5), (email, probability)
        checked += 1
    assert checked > 30


def test_a_thin_store_falls_back_to_after_days_and_says_so(any_store):
    shop = Shop(any_store)
    shop.put(shop.product("p1"), shop.customer("ann"),
             shop.order("o1", 400, customer_id="ann", email="ann@example.com"),
             shop.order("o2", 200, customer_id="ann", email="ann@example.com"))
    actions = shop.plan(BackToBestsellers({"timing": "p_alive"}))
    assert [a.email for a in actions] == ["ann@example.com"]
    assert "P(alive) timing not used: too few buyers to fit the model (1, at least 100 needed)" in actions[0].reason


def test_timing_options_are_checked():
    with pytest.raises(ValidationError, match="contradicts"):
        BackToBestsellers({"cadence": True, "timing": "p_alive"})
    with pytest.raises(ValidationError):
        BackToBestsellers({"timing": "p_alive", "p_alive_below": 1.5})
    assert BackToBestsellers({"cadence": True}).options.chosen_timing == "cadence"
    assert BackToBestsellers({"timing": "cadence"}).options.chosen_timing == "cadence"
