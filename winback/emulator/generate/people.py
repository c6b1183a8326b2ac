"""The generated customers: how many orders each places and when (most once, a few monthly),
guests, consent and its date, tags and addresses."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate

from winback.emulator import names
from winback.emulator.generate.clock import DAY, HOUR, Clock, weighted
from winback.emulator.world import WAddress, WCustomer


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


def _order_times(rng: random.Random, k: int, regular: bool, clock: Clock) -> list[int]:
    """Sorted order times for one buyer: one-off, a spread of visits, or a monthly cadence."""
    latest = clock.now - 60
    if regular and k > 1:
        end = latest - (rng.randint(0, 30 * DAY) if rng.random() < 0.5 else rng.randint(150 * DAY, 400 * DAY))
        end = max(end, clock.start + (k - 1) * DAY)
        cadence = max(DAY, min(30 * DAY, (end - clock.start) // (k - 1)))
        first = end - cadence * (k - 1)
        return sorted(max(clock.start, min(latest, first + j * cadence + rng.randint(-2 * DAY, 2 * DAY)))
                      for j in range(k))
    first = clock.growth(rng)
    if k == 1:
        return [first]
    min_tenure = min(k * 14 * DAY, clock.span)
    if latest - first < min_tenure:
        first = max(clock.start, latest - min_tenure - rng.randint(0, 30 * DAY))
    remaining = latest - first
    still_active = rng.random() < 0.45
    tenure = remaining if still_active else min(remaining, max(k * 7 * DAY, int(remaining * rng.random())))
    return [first] + sorted(min(latest, first + rng.randint(HOUR, max(HOUR, tenure))) for _ in range(k - 1))


@dataclass(slots=True)
class People:
    customers: list[WCustomer]
    times: list[list[int]]
    """Order times per customer (index ``key - 1``)."""
    consent_ts: list[int | None]
    addresses: list[WAddress]
    """A billing address per customer, also when ``customer.address`` is None."""
    emails: set[str]

    @classmethod
    def build(cls, rng: random.Random, n: int, n_orders: int, clock: Clock) -> People:
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
                early = rng.randint(0, 600) if rng.random() < 0.5 else int(rng.random() ** 2 * 200 * DAY)
                created = max(times[0] - early, clock.start - 365 * DAY)
            else:
                created = clock.growth(rng)
            first, last, email, phone, address = names.draw_person(rng, emails)
            consent = _CONSENTS[weighted(rng, _CONSENT_CUM)]
            if consent == "SUBSCRIBED":
                consent_ts = created if rng.random() < 0.7 else rng.randint(created, clock.now)
            elif consent == "NOT_SUBSCRIBED":
                consent_ts = created if rng.random() < 0.2 else None
            else:
                consent_ts = rng.randint(created, clock.now)
            touched = max(created, times[-1] if times else created, consent_ts or created)
            updated = clock.later(touched, 0, 3 * DAY, rng)
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
                created_at=Clock.dt(created), updated_at=Clock.dt(updated), registered=not guest,
                consent=consent, consent_updated_at=None if consent_ts is None else Clock.dt(consent_ts),
                address=address if rng.random() < 0.9 else None, tags=tags)
            rows.append((created, i, customer, times, consent_ts, address))
        rows.sort(key=lambda row: (row[0], row[1]))
        for key, row in enumerate(rows, start=1):
            row[2].key = key
        return cls([r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows],
                   [r[5] for r in rows], emails)

