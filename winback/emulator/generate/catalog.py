"""The generated catalog: products with a popularity curve (a few sell far more than the rest),
drafts, archived products, price changes, and products deleted since (lines keep their title)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate

from winback.emulator import names
from winback.emulator.generate.clock import DAY, NEVER, Clock, weighted
from winback.emulator.world import WLine, WProduct


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", names.ascii_fold(text).lower()).strip("-") or "item"


def _price(rng: random.Random, lo: float, hi: float) -> Decimal:
    whole = int(lo + (hi - lo) * rng.random() ** 1.6)
    cents = rng.choice(("00", "00", "50", "95", "99"))
    return min(max(Decimal(f"{whole}.{cents}"), Decimal("5.00")), Decimal("250.00"))


@dataclass(slots=True)
class Catalog:
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
    def build(cls, rng: random.Random, n: int, clock: Clock, prefix: str) -> Catalog:
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
                created = clock.start - rng.randint(30 * DAY, 400 * DAY)
            elif rank in drafts and rng.random() < 0.7:
                created = clock.now - rng.randint(DAY, 90 * DAY)
            elif rng.random() < 0.65:
                created = clock.start - rng.randint(0, 400 * DAY)
            else:
                created = min(clock.growth(rng), clock.now - 2 * DAY)
            if rank in former:
                retired = clock.start + int(clock.span * rng.uniform(0.5, 0.85))
            elif rank in archived:
                retired = created + max(DAY, int((clock.now - created) * rng.uniform(0.3, 0.95)))
            else:
                retired = NEVER
            updated = retired if retired != NEVER else created + int((clock.now - created) * rng.random() ** 0.5)
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
                status=status, created_at=Clock.dt(created), updated_at=Clock.dt(updated),
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
            pos = self.sellable[weighted(rng, self.cum)]
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

