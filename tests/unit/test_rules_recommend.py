"""Co-purchase recommendations (winback.rules.recommend) and back_to_bestsellers' ``recommend`` option."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.unit.test_rules_builtin_support import Shop, ago, count_statements
from winback.model import ProductStatus
from winback.rules.back_to_bestsellers import BackToBestsellers
from winback.rules.recommend import Recommend, Recommender, co_purchase_graph
from winback.sync import open_store


def populate(shop: Shop) -> None:
    """a+b bought together by three buyers, a+c by two, a+x (archived) by three; e is the top
    seller by units (one buyer, 50 units); t bought only a; n bought nothing in the window."""
    shop.put(*(shop.product(p) for p in "abcde"), shop.product("x", ProductStatus.ARCHIVED))
    orders = []
    for n in (1, 2, 3):
        orders.append(shop.order(f"ab{n}", 20, email=f"ab{n}@example.com", lines=[("a", 1), ("b", 1), ("x", 1)]))
    for n in (1, 2):
        orders.append(shop.order(f"ac{n}", 20, email=f"ac{n}@example.com", lines=[("a", 1)]))
        orders.append(shop.order(f"ac{n}-2", 15, email=f"ac{n}@example.com", lines=[("c", 1)]))
    orders += [
        shop.order("e1", 20, email="bulk@example.com", lines=[("e", 50)]),
        shop.order("d1", 20, email="d@example.com", lines=[("d", 1)]),
        shop.order("t1", 200, email="t@example.com", lines=[("a", 1)]),
        shop.order("old", 500, email="n@example.com", lines=[("b", 1), ("c", 1)]),
        # a cancelled order pairs nothing
        shop.order("z1", 20, email="z@example.com", lines=[("a", 1), ("d", 1)], cancelled=True),
    ]
    shop.put(*orders)


def test_pairs_count_distinct_buyers_of_real_orders_and_skip_inactive_products(any_store):
    shop = Shop(any_store)
    populate(shop)
    with any_store.reading() as conn:
        graph = co_purchase_graph(conn, shop.key, ago(365), min_support=2)
    assert {src: [(n.product_id, n.support) for n in ns] for src, ns in graph.neighbours.items()} == {
        "a": [("b", 3), ("c", 2)], "b": [("a", 3)], "c": [("a", 2)], "x": [("b", 3), ("a", 3)],
    }
    with any_store.reading() as conn:
        assert set(co_purchase_graph(conn, shop.key, ago(365), min_support=3).neighbours) == {"a", "b", "x"}


def test_recommender_fills_from_bestsellers_when_pairs_are_too_few(any_store):
    shop = Shop(any_store)
    populate(shop)
    batch = [("t@example.com", None), ("n@example.com", None), ("ab1@example.com", None)]

    def pick(method: Recommend, min_support: int, count: int = 3) -> dict[str, list[str]]:
        with any_store.reading() as conn:
            recommender = Recommender(conn, shop.key, ago(365), method=method, count=count, min_support=min_support)
            chosen = recommender.for_batch(conn, batch)
        return {email: [p.id for p in products] for email, products in chosen.items()}

    assert pick(Recommend.CO_PURCHASE, 2) == {
        "t@example.com": ["b", "c", "e"],  # b and c were bought with a, then the top seller
        "n@example.com": ["a", "e", "d"],  # bought b and c long ago: a goes with both
        "ab1@example.com": ["c", "e", "d"],
    }
    assert pick(Recommend.CO_PURCHASE, 3)["t@example.com"] == ["b", "e", "c"]
    assert pick(Recommend.BESTSELLERS, 2)["t@example.com"] == ["e", "b", "c"]


def test_back_to_bestsellers_recommends_by_co_purchase_when_asked(any_store):
    shop = Shop(any_store)
    populate(shop)
    shop.put(shop.customer("t", email="t@example.com"))

    def titles(options: dict[str, object]) -> list[str]:
        actions = {a.email: a for a in shop.plan(BackToBestsellers(options))}
        return [p["title"][-1] for p in actions["t@example.com"].payload["email"]["context"]["products"]]

    assert titles({"products": 2}) == ["e", "b"]
    assert titles({"products": 2, "recommend": "co_purchase", "min_support": 2}) == ["b", "c"]
    with pytest.raises(ValidationError):
        BackToBestsellers({"recommend": "nearest"})


def test_co_purchase_statements_do_not_grow_with_the_audience(tmp_path):
    counts = {}
    for n in (20, 600):
        store = open_store(f"sqlite:///{tmp_path / f'{n}.db'}")
        shop = Shop(store)
        shop.put(shop.product("a"), shop.product("b"), shop.product("c"))
        shop.put(*(shop.order(f"o{i}", 200, email=f"b{i:04}@example.com", accepts_marketing=True,
                              lines=[("a", 1), ("b" if i % 2 else "c", 1)]) for i in range(n)))
        with count_statements(store) as seen:
            actions = shop.plan(BackToBestsellers({"recommend": "co_purchase"}))
        assert len(actions) == n
        counts[n] = len(seen)
        store.close()
    assert counts[600] <= counts[20] + 1
