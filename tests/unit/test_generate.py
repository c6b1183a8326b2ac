"""The seeded world generator: determinism, invariants and a realistic shape."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from winback.emulator.generate import DEFAULT_NOW, generate_world
from winback.emulator.world import World


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world()


def _real(order) -> bool:
    return not order.test and order.cancelled_at is None and order.financial_status != "REFUNDED"


def test_same_seed_gives_an_equal_world_and_another_seed_a_different_one() -> None:
    a = generate_world(7, customers=300)
    b = generate_world(7, customers=300)
    c = generate_world(8, customers=300)

    assert a == b
    assert a.now == DEFAULT_NOW
    assert [o.email for o in a.orders] != [o.email for o in c.orders]


def test_the_world_does_not_depend_on_string_hashing() -> None:
    script = ("import hashlib; from winback.emulator.generate import generate_world; "
              "print(hashlib.sha256(repr(generate_world(5, customers=150)).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, check=True).stdout for seed in ("1", "2")}

    assert len(digests) == 1


def test_an_explicit_order_count_is_exact() -> None:
    for n in (0, 1, 57, 1234):
        assert len(generate_world(3, customers=200, orders=n).orders) == n
    assert len(generate_world(3, customers=10, orders=500).orders) == 500


def test_orders_are_sorted_and_keyed_in_creation_order(world: World) -> None:
    created = [o.created_at for o in world.orders]

    assert created == sorted(created)
    assert [o.key for o in world.orders] == list(range(1, len(world.orders) + 1))
    assert [o.number for o in world.orders] == [1000 + o.key for o in world.orders]
    assert all(o.processed_at == o.created_at for o in world.orders)


def test_keys_are_contiguous_and_lookups_work(world: World) -> None:
    assert [c.key for c in world.customers] == list(range(1, 2001))
    assert [p.key for p in world.products] == list(range(1, 121))
    lines = [line.key for o in world.orders for line in o.lines]
    assert sorted(lines) == list(range(1, len(lines) + 1))
    assert world.customer(17).key == 17
    assert world.product(120).key == 120


def test_timestamps_are_ordered_and_never_after_now(world: World) -> None:
    for o in world.orders:
        assert o.created_at <= o.updated_at <= world.now
        assert o.cancelled_at is None or o.created_at < o.cancelled_at <= world.now
        assert o.created_at.tzinfo is not None
    for c in world.customers:
        assert c.created_at <= c.updated_at <= world.now
        assert c.consent_updated_at is None or c.created_at <= c.consent_updated_at <= world.now
    for p in world.products:
        assert p.created_at <= p.updated_at <= world.now


def test_customers_are_created_before_their_first_order_and_updated_after_their_last(world: World) -> None:
    first: dict[int, datetime] = {}
    last: dict[int, datetime] = {}
    for o in world.orders:
        if o.customer_key is not None:
            first.setdefault(o.customer_key, o.created_at)
            last[o.customer_key] = o.created_at
            assert o.email == world.customer(o.customer_key).email

    for key, when in first.items():
        customer = world.customer(key)
        assert customer.created_at <= when
        assert customer.updated_at >= last[key]


def test_products_are_created_before_their_first_sale_and_archived_ones_stop_selling(world: World) -> None:
    for o in world.orders:
        for line in o.lines:
            if line.product_key is not None:
                product = world.product(line.product_key)
                assert product.created_at < o.created_at
                assert product.status != "DRAFT"
                if product.status == "ARCHIVED":
                    assert o.created_at <= product.updated_at


def test_amounts_add_up(world: World) -> None:
    for o in world.orders:
        assert o.subtotal == sum(line.quantity * line.unit_price for line in o.lines)
        assert o.total >= o.subtotal
        assert o.total - o.subtotal in (Decimal("0"), Decimal("6.95"), Decimal("14.95"))
        assert o.total.as_tuple().exponent == -2
        assert 1 <= len(o.lines) <= 5
        if o.financial_status == "REFUNDED":
            assert o.refunded_amount == o.total
            assert all(line.refunded_quantity == line.quantity for line in o.lines)
        elif o.financial_status == "PARTIALLY_REFUNDED":
            assert o.refunded_amount == sum(line.refunded_quantity * line.unit_price for line in o.lines)
            assert 0 < o.refunded_amount < o.total
            assert 0 < sum(line.quantity - line.refunded_quantity for line in o.lines)
        else:
            assert o.refunded_amount == 0
            assert all(line.refunded_quantity == 0 for line in o.lines)


def test_refunded_and_cancelled_orders_are_updated_days_later(world: World) -> None:
    late = [o for o in world.orders if o.financial_status in ("REFUNDED", "VOIDED")
            and o.created_at < world.now - timedelta(days=60)]

    assert late
    assert all(o.updated_at - o.created_at >= timedelta(days=1) for o in late)
    assert all(o.financial_status in ("VOIDED", "REFUNDED") for o in world.orders if o.cancelled_at)


def test_identities_are_unique_and_well_formed(world: World) -> None:
    emails = [c.email for c in world.customers]
    handles = [p.handle for p in world.products]

    assert len(set(emails)) == len(emails)
    assert all(e.isascii() and e == e.lower() and e.count("@") == 1 for e in emails)
    assert any("+" in e for e in emails)
    assert len({e.split("@")[1] for e in emails}) >= 5
    assert len(set(handles)) == len(handles)
    assert all(p.image_url == f"https://cdn.example.com/products/{p.handle}.jpg" for p in world.products)
    assert len({p.sku for p in world.products}) == len(world.products)
    phones = [c.phone for c in world.customers if c.phone]
    assert phones and all(p.startswith("+") and p[1:].isdigit() for p in phones)


def test_guests_all_have_orders_and_some_registered_customers_have_none(world: World) -> None:
    counts = Counter(o.customer_key for o in world.orders if o.customer_key is not None)
    guests = [c for c in world.customers if not c.registered]
    buyers = len(counts)

    assert all(counts[c.key] >= 1 for c in guests)
    assert 0.30 <= len(guests) / buyers <= 0.50
    assert any(c.registered and c.key not in counts for c in world.customers)


def test_order_frequency_has_a_long_tail(world: World) -> None:
    counts = Counter(o.customer_key for o in world.orders if o.customer_key is not None)
    one_time = sum(1 for n in counts.values() if n == 1) / len(counts)

    assert 0.45 <= one_time <= 0.75
    assert sum(1 for n in counts.values() if n >= 10) >= 10
    assert max(counts.values()) >= 20


def test_some_orders_have_no_customer_but_an_email(world: World) -> None:
    orphans = [o for o in world.orders if o.customer_key is None]

    assert 0.003 * len(world.orders) <= len(orphans) <= 0.03 * len(world.orders)
    assert all(o.email for o in orphans)


def test_every_status_kind_is_present(world: World) -> None:
    statuses = Counter(o.financial_status for o in world.orders)
    n = len(world.orders)

    assert {"PAID", "REFUNDED", "PARTIALLY_REFUNDED", "VOIDED"} <= set(statuses)
    assert statuses["PAID"] > 0.8 * n
    assert 0.02 <= statuses["REFUNDED"] / n <= 0.1
    assert 0.005 <= sum(1 for o in world.orders if o.cancelled_at) / n <= 0.05
    assert any(o.test for o in world.orders)
    assert any(o.financial_status in ("PENDING", "AUTHORIZED") and not o.test for o in world.orders)
    assert any(line.product_key is None for o in world.orders for line in o.lines)


def test_consent_mix_and_marketing_flags(world: World) -> None:
    consent = Counter(c.consent for c in world.customers)
    n = len(world.customers)

    assert 0.35 <= consent["SUBSCRIBED"] / n <= 0.55
    assert consent["NOT_SUBSCRIBED"] and consent["UNSUBSCRIBED"] and consent["PENDING"]
    assert any(c.consent == "NOT_SUBSCRIBED" and c.consent_updated_at is None for c in world.customers)
    assert all(c.consent_updated_at for c in world.customers if c.consent != "NOT_SUBSCRIBED")
    subscribed = [o.accepts_marketing for o in world.orders
                  if o.customer_key and world.customer(o.customer_key).consent == "SUBSCRIBED"]
    never = [o.accepts_marketing for o in world.orders
             if o.customer_key and world.customer(o.customer_key).consent == "NOT_SUBSCRIBED"]
    assert sum(subscribed) / len(subscribed) > 0.7 > 0.1 > sum(never) / len(never)


def test_names_cover_accents_apostrophes_hyphens_and_other_scripts(world: World) -> None:
    full = [f"{c.first_name or ''} {c.last_name or ''}" for c in world.customers]

    assert any(not name.isascii() and any("a" <= ch.lower() <= "z" for ch in name) for name in full)
    assert any("'" in name for name in full)
    assert any("-" in name for name in full)
    non_latin = [n for n in full if any(ord(ch) > 0x36F and not ("\u1e00" <= ch <= "\u1eff") for ch in n)]
    assert 0.03 <= len(non_latin) / len(full) <= 0.2
    assert any(c.first_name is None for c in world.customers)
    assert any(c.last_name is None for c in world.customers)
    assert len({c.address.country_code for c in world.customers if c.address}) >= 6


def test_bestsellers_dominate_and_statuses_are_mixed(world: World) -> None:
    units: Counter[int] = Counter()
    for o in world.orders:
        for line in o.lines:
            if line.product_key is not None:
                units[line.product_key] += line.quantity
    top = sum(n for _, n in units.most_common(len(world.products) // 10))
    statuses = Counter(p.status for p in world.products)
    archived_rank = [rank for rank, (key, _) in enumerate(units.most_common(), start=1)
                     if world.product(key).status == "ARCHIVED"]

    assert top / sum(units.values()) >= 0.35
    assert statuses["ACTIVE"] > 0.8 * len(world.products)
    assert statuses["DRAFT"] and statuses["ARCHIVED"]
    assert min(archived_rank) <= 20
    assert all(Decimal("5") <= p.price <= Decimal("250") for p in world.products)


def test_history_spans_the_requested_years(world: World) -> None:
    span = world.orders[-1].created_at - world.orders[0].created_at
    short = generate_world(2, customers=300, years=1.0, now=datetime(2025, 6, 1, tzinfo=timezone.utc))

    assert timedelta(days=3 * 365 - 30) <= span <= timedelta(days=3 * 366)
    assert world.now - world.orders[-1].created_at < timedelta(days=3)
    assert short.orders[0].created_at >= datetime(2024, 6, 1, tzinfo=timezone.utc) - timedelta(days=1)
    assert short.orders[-1].created_at <= datetime(2025, 6, 1, tzinfo=timezone.utc)
    first_year = sum(1 for o in world.orders if o.created_at < world.orders[0].created_at + span / 3)
    assert first_year < len(world.orders) / 3


def test_the_default_world_has_lapsed_subscribers_and_subscribed_guests(world: World) -> None:
    last_real: dict[int, datetime] = {}
    for o in world.orders:
        if o.customer_key is not None and _real(o):
            last_real[o.customer_key] = o.created_at
    cutoff = world.now - timedelta(days=180)
    lapsed = [k for k, when in last_real.items() if when <= cutoff and world.customer(k).consent == "SUBSCRIBED"]
    guests = [c for c in world.customers if not c.registered and c.consent == "SUBSCRIBED"]

    assert len(lapsed) >= 200
    assert len(guests) >= 50


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError):
        generate_world(customers=5, now=datetime(2026, 1, 1))
