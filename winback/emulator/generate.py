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
"""

from __future__ import annotations

import math
import random
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import accumulate

from winback.emulator import names
from winback.emulator.fulfilment import fulfil
from winback.emulator.world import WAddress, WCustomer, WLine, WOrder, WProduct, World

DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
"""The default "today" of a world; fixed so that a seed alone determines the world."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_HOUR = 3_600
_DAY = 86_400
_GROWTH = 0.8
"""Order volume at the end of the history is ``1 + _GROWTH`` times the volume at its start."""
_NEVER = 2**62
_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_SHIPPING = {True: (Decimal("6.95"), Decimal("75")), False: (Decimal("14.95"), Decimal("150"))}
"""Domestic (US) and international shipping: (fee, free from this subtotal)."""


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
    clock = _Clock(now, years)
    prefix = "".join(w[0] for w in re.findall(r"[A-Za-z]+", store_name)).upper()[:3] or "SKU"
    catalog = _Catalog.build(rng, products, clock, prefix)
    n_guestless = n_orders if customers == 0 else round(n_orders * 0.01)
    people = _People.build(rng, customers, n_orders - n_guestless, clock)
    world_orders = _build_orders(rng, people, n_guestless, catalog, clock)
    fulfil(world_orders, now)
    return World(seed=seed, store_name=store_name, currency=currency, now=now,
                 products=catalog.products, customers=people.customers, orders=world_orders)


class _Clock:
    """Whole seconds since the epoch; the history is ``[start, now]``."""

    __slots__ = ("now", "span", "start")

    def __init__(self, now: datetime, years: float) -> None:
        self.now = math.floor(now.timestamp())
        self.span = max(_DAY, int(years * 365.25 * _DAY))
        self.start = self.now - self.span

    def growth(self, rng: random.Random) -> int:
        """A time in the history, denser towards ``now`` (linear growth of the store)."""
        x = (math.sqrt(1 + 2 * _GROWTH * rng.random() * (1 + _GROWTH / 2)) - 1) / _GROWTH
        return min(self.start + int(x * self.span), self.now - 60)

    def later(self, ts: int, lo: int, hi: int, rng: random.Random) -> int:
        """``ts`` plus a delay in ``[lo, hi]`` seconds, never after ``now``."""
        return max(ts, min(self.now, ts + rng.randint(lo, hi)))

    @staticmethod
    def dt(ts: int) -> datetime:
        return _EPOCH + timedelta(seconds=ts)


def _weighted(rng: random.Random, cum: list[float]) -> int:
    return bisect_right(cum, rng.random() * cum[-1])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", names.ascii_fold(text).lower()).strip("-") or "item"


def _price(rng: random.Random, lo: float, hi: float) -> Decimal:
    whole = int(lo + (hi - lo) * rng.random() ** 1.6)
    cents = rng.choice(("00", "00", "50", "95", "99"))
    return min(max(Decimal(f"{whole}.{cents}"), Decimal("5.00")), Decimal("250.00"))


@dataclass(slots=True)
class _Catalog:
    products: list[WProduct]
    cum: list[float]
    """Cumulative popularity over the products that ever sold (not DRAFT)."""
    sellable: list[int]
    """List position of the product behind each ``cum`` entry."""
    created: list[int]
    retired: list[int]
    old_price: list[Decimal]
    price_changed: list[int]
    fallback: int
    deleted: list[tuple[str, str | None, Decimal]]
    """Products deleted since: (title, sku, price) for lines whose ``product_key`` is None."""

    @classmethod
    def build(cls, rng: random.Random, n: int, clock: _Clock, prefix: str) -> _Catalog:
        ranks = list(range(1, n + 1))
        rng.shuffle(ranks)
        top = list(range(2, min(n, 6) + 1))
        n_archived, n_draft = round(n * 0.05), round(n * 0.08)
        former = set(rng.sample(top, min(len(top), n_archived, max(1, round(n_archived * 0.3)))))
        rest = [r for r in range(6, n + 1) if r not in former]
        rng.shuffle(rest)
        drafts = set(rest[:n_draft])
        archived = former | set(rest[n_draft:n_draft + n_archived - len(former)])

        titles: set[str] = set()
        specs = []
        for i in range(n):
            rank = ranks[i]
            for _ in range(30):
                word, code, materials, lo, hi = rng.choice(names.CATEGORIES)
                title = f"{rng.choice(names.ADJECTIVES)} {rng.choice(materials)} {word}"
                if title not in titles:
                    break
            titles.add(title)
            if rank == 1 or rank in former:
                created = clock.start - rng.randint(30 * _DAY, 400 * _DAY)
            elif rank in drafts and rng.random() < 0.7:
                created = clock.now - rng.randint(_DAY, 90 * _DAY)
            elif rng.random() < 0.65:
                created = clock.start - rng.randint(0, 400 * _DAY)
            else:
                created = min(clock.growth(rng), clock.now - 2 * _DAY)
            if rank in former:
                retired = clock.start + int(clock.span * rng.uniform(0.5, 0.85))
            elif rank in archived:
                retired = created + max(_DAY, int((clock.now - created) * rng.uniform(0.3, 0.95)))
            else:
                retired = _NEVER
            updated = retired if retired != _NEVER else created + int((clock.now - created) * rng.random() ** 0.5)
            price = _price(rng, lo, hi)
            old, changed = price, 0
            if rng.random() < 0.55:
                old = max(Decimal("5.00"), Decimal(f"{int(float(price) * rng.uniform(0.85, 0.97))}.{str(price)[-2:]}"))
                changed = clock.start + int(clock.span * rng.uniform(0.2, 0.9))
            status = "DRAFT" if rank in drafts else "ARCHIVED" if rank in archived else "ACTIVE"
            specs.append((created, i, title, code, price, old, changed, status, updated, retired, rank))

        specs.sort()
        products: list[WProduct] = []
        handles: set[str] = set()
        created_l, retired_l, old_l, changed_l, weights = [], [], [], [], []
        fallback = -1
        for pos, (created, _, title, code, price, old, changed, status, updated, retired, rank) in enumerate(specs):
            handle = base = _slug(title)
            k = 1
            while handle in handles:
                k += 1
                handle = f"{base}-{k}"
            handles.add(handle)
            popularity = 1.0 / rank ** 1.07
            products.append(WProduct(
                key=pos + 1, title=title, handle=handle, sku=f"{prefix}-{code}-{pos + 1:04d}",
                price=price, image_url=f"https://cdn.example.com/products/{handle}.jpg",
                status=status, created_at=_Clock.dt(created), updated_at=_Clock.dt(updated),
                popularity=popularity))
            created_l.append(created)
            retired_l.append(retired)
            old_l.append(old)
            changed_l.append(changed)
            weights.append(0.0 if status == "DRAFT" else popularity)
            if rank == 1:
                fallback = pos
        sellable = [pos for pos, w in enumerate(weights) if w > 0]
        deleted = []
        for j in range(max(3, n // 25)):
            word, code, materials, lo, hi = rng.choice(names.CATEGORIES)
            sku = f"{prefix}-{code}-X{j + 1:02d}" if rng.random() < 0.5 else None
            deleted.append((f"{rng.choice(names.ADJECTIVES)} {rng.choice(materials)} {word}", sku, _price(rng, lo, hi)))
        return cls(products, list(accumulate(weights[p] for p in sellable)), sellable, created_l,
                   retired_l, old_l, changed_l, fallback, deleted)

    def pick(self, rng: random.Random, ts: int) -> int | None:
        """A product on sale at ``ts``, by popularity; ``None`` if the catalog has none."""
        if not self.sellable:
            return None
        for _ in range(40):
            pos = self.sellable[_weighted(rng, self.cum)]
            if self.created[pos] < ts < self.retired[pos]:
                return pos
        return self.fallback

    def line(self, rng: random.Random, ts: int, key: int, quantity: int) -> WLine:
        pos = self.pick(rng, ts) if rng.random() >= 0.003 else None
        if pos is None:
            title, sku, price = rng.choice(self.deleted)
            return WLine(key, None, title, sku, quantity, 0, price)
        p = self.products[pos]
        price = self.old_price[pos] if ts < self.price_changed[pos] else p.price
        return WLine(key, p.key, p.title, p.sku, quantity, 0, price)


_CONSENTS = ("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED", "PENDING")
_CONSENT_CUM = list(accumulate((0.45, 0.35, 0.15, 0.05)))


def _order_counts(rng: random.Random, n_buyers: int, total: int) -> tuple[list[int], list[bool]]:
    """Orders per buyer (each ≥ 1, summing to ``total``) and which buyers order monthly."""
    counts, regular = [], []
    for _ in range(n_buyers):
        r = rng.random()
        if r < 0.60:
            c = 1
        else:
            r = rng.random()
            c = (2 if r < 0.50 else 3 if r < 0.70 else rng.randint(4, 5) if r < 0.80
                 else rng.randint(6, 9) if r < 0.90 else 10 + int(30 * rng.random() ** 2) if r < 0.985
                 else rng.randint(12, 36))
        counts.append(c)
        regular.append(c > 1 and r >= 0.985)
    diff = total - sum(counts)
    if diff > 0:
        pool = [i for i, c in enumerate(counts) if c > 1] or list(range(n_buyers))
        weight = sum(counts[i] for i in pool)
        for i in pool:
            extra = diff * counts[i] // weight
            counts[i] += extra
        for _ in range(total - sum(counts)):
            counts[rng.choice(pool)] += 1
    elif diff < 0:
        need = -diff
        pool = [i for i, c in enumerate(counts) if c > 2]
        excess = sum(counts[i] - 2 for i in pool)
        if excess >= need:
            for i in pool:
                cut = (counts[i] - 2) * need // excess
                counts[i] -= cut
            need = sum(counts) - total
            while need > 0:
                rng.shuffle(pool)
                for i in pool:
                    if need and counts[i] > 2:
                        counts[i] -= 1
                        need -= 1
        else:
            for i in pool:
                counts[i] = 2
            twos = [i for i, c in enumerate(counts) if c == 2]
            rng.shuffle(twos)
            for i in twos[:need - excess]:
                counts[i] = 1
                regular[i] = False
    return counts, regular


def _order_times(rng: random.Random, k: int, regular: bool, clock: _Clock) -> list[int]:
    """Sorted order times for one buyer: one-off, a spread of visits, or a monthly cadence."""
    latest = clock.now - 60
    if regular and k > 1:
        end = latest - (rng.randint(0, 30 * _DAY) if rng.random() < 0.5 else rng.randint(150 * _DAY, 400 * _DAY))
        end = max(end, clock.start + (k - 1) * _DAY)
        cadence = max(_DAY, min(30 * _DAY, (end - clock.start) // (k - 1)))
        first = end - cadence * (k - 1)
        return sorted(max(clock.start, min(latest, first + j * cadence + rng.randint(-2 * _DAY, 2 * _DAY)))
                      for j in range(k))
    first = clock.growth(rng)
    if k == 1:
        return [first]
    min_tenure = min(k * 14 * _DAY, clock.span)
    if latest - first < min_tenure:
        first = max(clock.start, latest - min_tenure - rng.randint(0, 30 * _DAY))
    remaining = latest - first
    still_active = rng.random() < 0.45
    tenure = remaining if still_active else min(remaining, max(k * 7 * _DAY, int(remaining * rng.random())))
    return [first] + sorted(min(latest, first + rng.randint(_HOUR, max(_HOUR, tenure))) for _ in range(k - 1))


@dataclass(slots=True)
class _People:
    customers: list[WCustomer]
    times: list[list[int]]
    """Order times per customer (index ``key - 1``)."""
    consent_ts: list[int | None]
    addresses: list[WAddress]
    """A billing address per customer, also when ``customer.address`` is None."""
    emails: set[str]

    @classmethod
    def build(cls, rng: random.Random, n: int, n_orders: int, clock: _Clock) -> _People:
        n_buyers = min(round(n * 0.92), n_orders) if n else 0
        counts, regular = _order_counts(rng, n_buyers, n_orders)
        emails: set[str] = set()
        rows = []
        for i in range(n):
            times = _order_times(rng, counts[i], regular[i], clock) if i < n_buyers else []
            k = len(times)
            guest = bool(times) and rng.random() < (0.5 if k == 1 else 0.25 if k < 10 else 0.1)
            if guest:
                created = times[0] - rng.randint(0, 120)
            elif times:
                early = rng.randint(0, 600) if rng.random() < 0.5 else int(rng.random() ** 2 * 200 * _DAY)
                created = max(times[0] - early, clock.start - 365 * _DAY)
            else:
                created = clock.growth(rng)
            first, last, email, phone, address = names.draw_person(rng, emails)
            consent = _CONSENTS[_weighted(rng, _CONSENT_CUM)]
            if consent == "SUBSCRIBED":
                consent_ts = created if rng.random() < 0.7 else rng.randint(created, clock.now)
            elif consent == "NOT_SUBSCRIBED":
                consent_ts = created if rng.random() < 0.2 else None
            else:
                consent_ts = rng.randint(created, clock.now)
            touched = max(created, times[-1] if times else created, consent_ts or created)
            updated = clock.later(touched, 0, 3 * _DAY, rng)
            if rng.random() < 0.15:
                updated = rng.randint(updated, clock.now)
            tags = []
            if k >= 10 and rng.random() < 0.8:
                tags.append("vip")
            if not guest and rng.random() < 0.01:
                tags.append("wholesale")
            if rng.random() < 0.08:
                tags.append(rng.choice(names.CUSTOMER_TAGS[:-1]))
            customer = WCustomer(
                key=0, first_name=first, last_name=last, email=email, phone=phone,
                created_at=_Clock.dt(created), updated_at=_Clock.dt(updated), registered=not guest,
                consent=consent, consent_updated_at=None if consent_ts is None else _Clock.dt(consent_ts),
                address=address if rng.random() < 0.9 else None, tags=tags)
            rows.append((created, i, customer, times, consent_ts, address))
        rows.sort(key=lambda row: (row[0], row[1]))
        for key, row in enumerate(rows, start=1):
            row[2].key = key
        return cls([r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows],
                   [r[5] for r in rows], emails)


def _build_orders(rng: random.Random, people: _People, n_guestless: int, catalog: _Catalog,
                  clock: _Clock) -> list[WOrder]:
    events = [(ts, key) for key, times in enumerate(people.times, start=1) for ts in times]
    events.extend((clock.growth(rng), 0) for _ in range(n_guestless))
    events.sort()
    customers = people.customers
    orders: list[WOrder] = []
    line_key = 0
    dt = _Clock.dt
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
                else "PARTIAL" if r < 0.09 else "OPEN" if clock.now - ts < 14 * _DAY and r < 0.25 else "PAID")
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
        updated = clock.later(ts, 0, int(rng.random() ** 3 * 4 * _DAY), rng)
        if kind == "TEST":
            status = "PENDING" if rng.random() < 0.2 else "PAID"
        elif kind == "OPEN":
            status = "PENDING" if rng.random() < 0.5 else "AUTHORIZED"
        elif kind == "CANCELLED":
            cancelled = clock.later(ts, _DAY, 5 * _DAY, rng)
            updated = cancelled
            status = "VOIDED" if rng.random() < 0.5 else "REFUNDED"
        elif kind == "REFUNDED":
            updated = clock.later(ts, 2 * _DAY, 30 * _DAY, rng)
            status = "REFUNDED"
        elif kind == "PARTIAL":
            updated = clock.later(ts, 3 * _DAY, 45 * _DAY, rng)
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
