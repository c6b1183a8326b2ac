"""Product recommendations for the built-in rules' emails: the store's bestsellers, or "customers
who bought what you bought also bought" (item-to-item co-purchase).

Why item-to-item: the pairs "bought A and B" are counted once per plan over the lookback window,
in one set-based statement, and kept as a short neighbour list per product. A buyer's
recommendations are then read off the neighbour lists of what they bought, so a plan costs one
statement for the pairs, one for the bestsellers, and one per batch of 500 recipients for what
they bought, however many customers the store has (Linden, Smith and York, "Amazon.com
recommendations: item-to-item collaborative filtering", 2003).

A pair counts distinct buyers (by email) who bought both products on real orders (not cancelled,
test or fully refunded) in the window. Its weight is the cosine of the two products' buyer sets,
``both / sqrt(buyers(A) * buyers(B))``, so a bestseller bought alongside everything does not
crowd out the products really bought together. Pairs with fewer than ``min_support`` common
buyers are noise and dropped. Buyers with more than ``max_basket`` distinct products (resellers,
staff accounts) are left out of the counting: they would add pairs quadratically and say little.

When a buyer has too few co-purchase neighbours left after leaving out what they already own, the
remaining slots are filled from the bestsellers (:func:`fill`), so
a young store or a one-order buyer still gets a full email.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, and_, func, select

from winback.model import ProductStatus
from winback.rules.queries import Bestseller, at_time, bestsellers, purchased_products
from winback.sync import tables

_orders = tables.orders
_lines = tables.order_lines
_products = tables.products

NEIGHBOURS = 20
"""Neighbours kept per product: enough for any email, and the pair table stays small."""
MAX_BASKET = 100
"""Buyers with more distinct products than this are left out of the pair counts."""


class Recommend(StrEnum):
    """How a rule picks the products its email shows (option ``recommend``)."""

    BESTSELLERS = "bestsellers"
    """The store's top products over the lookback window."""
    CO_PURCHASE = "co_purchase"
    """What buyers of the recipient's products also bought; bestsellers fill the rest."""


@dataclass(frozen=True, slots=True)
class Neighbour:
    product_id: str
    weight: float
    support: int
    """Distinct buyers who bought both products."""


@dataclass(slots=True)
class CoPurchaseGraph:
    """The neighbour lists of every active product with at least one supported pair."""

    neighbours: dict[str, list[Neighbour]] = field(default_factory=dict)
    products: dict[str, Bestseller] = field(default_factory=dict)
    """Every neighbour's product (active ones only), for the template."""

    def __len__(self) -> int:
        return len(self.neighbours)

    def recommend(self, bought: Iterable[str], count: int, exclude: set[str]) -> list[Bestseller]:
        """Up to ``count`` products scored by the summed weights of their pairs with ``bought``,
        none of ``exclude``; ties by the summed support, then product id."""
        scores: dict[str, tuple[float, int]] = {}
        for source in bought:
            for n in self.neighbours.get(source, ()):
                if n.product_id in exclude:
                    continue
                weight, support = scores.get(n.product_id, (0.0, 0))
                scores[n.product_id] = (weight + n.weight, support + n.support)
        ranked = sorted(scores.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        return [self.products[pid] for pid, _ in ranked[:count]]


def co_purchase_graph(
    conn: Connection,
    store_key: str,
    since: datetime,
    *,
    min_support: int,
    neighbours: int = NEIGHBOURS,
    max_basket: int = MAX_BASKET,
) -> CoPurchaseGraph:
    """Count the pairs of the window in one statement (see the module docstring)."""
    real = (
        select(_orders.c.id, _orders.c.lower_email)
        .where(
            _orders.c.store_key == store_key,
            _orders.c.counts_as_purchase.is_(True),
            _orders.c.ordered_at >= at_time(since, "pairs_since"),
            _orders.c.lower_email.is_not(None),
        )
        .subquery("real")
    )
    owned = (
        select(real.c.lower_email.label("who"), _lines.c.product_id.label("pid"))
        .select_from(real.join(_lines, and_(_lines.c.store_key == store_key, _lines.c.order_id == real.c.id)))
        .where(_lines.c.product_id.is_not(None), _lines.c.current_quantity > 0)
        .distinct()
        .subquery("owned")
    )
    sized = select(
        owned.c.who, owned.c.pid, func.count().over(partition_by=owned.c.who).label("basket")
    ).subquery("sized")
    kept = select(sized.c.who, sized.c.pid).where(sized.c.basket <= max_basket, sized.c.basket > 1).cte("kept")
    popularity = (
        select(kept.c.pid, func.count().label("buyers")).group_by(kept.c.pid).subquery("popularity")
    )
    a, b = kept.alias("a"), kept.alias("b")
    pairs = (
        select(a.c.pid.label("src"), b.c.pid.label("dst"), func.count().label("support"))
        .select_from(a.join(b, and_(a.c.who == b.c.who, a.c.pid != b.c.pid)))
        .group_by(a.c.pid, b.c.pid)
        .having(func.count() >= min_support)
        .subquery("pairs")
    )
    pa, pb = popularity.alias("pa"), popularity.alias("pb")
    product = _products
    scored = (
        select(
            pairs.c.src, pairs.c.dst, pairs.c.support, pa.c.buyers.label("src_buyers"), pb.c.buyers.label("dst_buyers"),
            product.c.title, product.c.url, product.c.image_url, product.c.price, product.c.currency,
            func.row_number().over(
                partition_by=pairs.c.src,
                order_by=(
                    (pairs.c.support * pairs.c.support * 1.0 / (pa.c.buyers * pb.c.buyers)).desc(), pairs.c.dst,
                ),
            ).label("rank"),
        )
        .select_from(
            pairs.join(pa, pa.c.pid == pairs.c.src)
            .join(pb, pb.c.pid == pairs.c.dst)
            .join(product, and_(product.c.store_key == store_key, product.c.id == pairs.c.dst))
        )
        .where(product.c.status == ProductStatus.ACTIVE.value)
        .subquery("scored")
    )
    query = (
        select(scored)
        .where(scored.c.rank <= neighbours)
        .order_by(scored.c.src, scored.c.rank)
    )
    graph = CoPurchaseGraph()
    for row in conn.execute(query):
        weight = row.support / math.sqrt(row.src_buyers * row.dst_buyers)
        graph.neighbours.setdefault(row.src, []).append(Neighbour(row.dst, weight, int(row.support)))
        if row.dst not in graph.products:
            graph.products[row.dst] = Bestseller(
                row.dst, row.title, row.url, row.image_url, row.price, row.currency, int(row.dst_buyers)
            )
    return graph


class Recommender:
    """Picks the products of each recipient's email, one batch of recipients at a time.

    Built once per plan (the bestsellers and, for co-purchase, the pair graph), then
    :meth:`for_batch` costs one query per batch. ``exclude_purchased`` leaves out what each
    recipient already bought, falling back to the top bestsellers when too few are left (as
    ``back_to_bestsellers`` always did).
    """

    def __init__(
        self,
        conn: Connection,
        store_key: str,
        since: datetime,
        *,
        method: Recommend,
        count: int,
        exclude_purchased: bool = True,
        min_support: int = 3,
    ) -> None:
        self.store_key = store_key
        self.method = method
        self.count = count
        self.exclude_purchased = exclude_purchased
        pool = count * 3 + 10 if exclude_purchased or method is Recommend.CO_PURCHASE else count
        self.ranked = bestsellers(conn, store_key, since, pool) if count else []
        self.graph = CoPurchaseGraph()
        if method is Recommend.CO_PURCHASE and count:
            self.graph = co_purchase_graph(conn, store_key, since, min_support=min_support)
        self._relevant = sorted({p.id for p in self.ranked} | set(self.graph.neighbours) | set(self.graph.products))
        """The products whose purchase by a recipient changes what they are shown."""

    @property
    def empty(self) -> bool:
        """Nothing to recommend at all: no active product sold in the window."""
        return not self.ranked and not self.graph.products

    def for_batch(
        self,
        conn: Connection,
        buyers: Sequence[tuple[str, str | None]],
        also_exclude: dict[str, set[str]] | None = None,
    ) -> dict[str, list[Bestseller]]:
        """``count`` products for each ``(lower_email, customer_id)`` of the batch, keyed by
        lower-cased email; ``also_exclude`` adds products to leave out per email (e.g. the one
        the email is about)."""
        also_exclude = also_exclude or {}
        if not self.count or not buyers:
            return {email: [] for email, _ in buyers}
        bought: dict[str, set[str]] = {}
        if self.exclude_purchased or self.method is Recommend.CO_PURCHASE:
            bought = purchased_products(conn, self.store_key, buyers, self._relevant)
        chosen: dict[str, list[Bestseller]] = {}
        for email, _ in buyers:
            owned = bought.get(email, set())
            extra = also_exclude.get(email, set())
            leave_out = (owned if self.exclude_purchased else set()) | extra
            picked: list[Bestseller] = []
            if self.method is Recommend.CO_PURCHASE:
                picked = self.graph.recommend(sorted(owned | extra), self.count, leave_out)
            if len(picked) < self.count:
                taken = {p.id for p in picked}
                rest = [p for p in self.ranked if p.id not in taken and p.id not in extra]
                picked += fill(rest, leave_out, self.count - len(picked), fallback=not picked)
            chosen[email] = picked
        return chosen


def fill(ranked: Sequence[Bestseller], leave_out: set[str], count: int, *, fallback: bool) -> list[Bestseller]:
    """The top ``count`` of ``ranked`` not in ``leave_out``; when too few are left and ``fallback``
    (nothing better was found), the global top instead, so the email is never short of products
    (what ``back_to_bestsellers`` always did)."""
    fresh = [product for product in ranked if product.id not in leave_out]
    if len(fresh) >= count or not fallback:
        return fresh[:count]
    return list(ranked[:count])
