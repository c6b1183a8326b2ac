"""Builders for the built-in rules' tests: a real local store filled through ``commit_page``
(no tests here)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from winback.connectors.base import Capabilities, Page, Resource
from winback.model import (
    AccountState,
    Address,
    ConsentState,
    Customer,
    EmailConsent,
    FinancialStatus,
    LineItem,
    Money,
    Order,
    Product,
    ProductStatus,
    Store,
)
from winback.rules.base import PlannedAction, Rule, RuleContext, StoreFacts
from winback.sync import LocalStore, tables

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


class Shop:
    """One store in a local store, with builders that write through ``commit_page``."""

    def __init__(self, store: LocalStore, platform: str = "ecwid", store_id: str = "1") -> None:
        self.store = store
        self.platform = platform
        self.store_id = store_id
        self.key = store.upsert_store(
            Store(platform=platform, store_id=store_id, name="Shop One", currency="EUR", url="https://shop.test",
                  logo_url="https://shop.test/logo.png")
        )

    @property
    def facts(self) -> StoreFacts:
        info = self.store.get_store(self.key)
        assert info is not None
        return StoreFacts(store_key=self.key, platform=info["platform"], name=info["name"], currency=info["currency"],
                          url=info["url"], logo_url=info["logo_url"])

    def context(self, capabilities: Capabilities | None = None, now: datetime = NOW) -> RuleContext:
        return RuleContext(store=self.store, facts=self.facts, now=now, capabilities=capabilities)

    def plan(self, rule: Rule, capabilities: Capabilities | None = None, now: datetime = NOW) -> list[PlannedAction]:
        return list(rule.plan(self.context(capabilities, now)))

    # --- records -------------------------------------------------------------------------------

    def customer(
        self,
        cid: str,
        email: str | None = None,
        *,
        consent: ConsentState = ConsentState.SUBSCRIBED,
        account: AccountState = AccountState.ENABLED,
        first_name: str | None = "Ann",
        last_name: str | None = None,
    ) -> Customer:
        return Customer(
            platform=self.platform, store_id=self.store_id, id=cid,
            email=email if email is not None else f"{cid}@example.com",
            first_name=first_name, last_name=last_name if last_name is not None else cid.title(),
            created_at=ago(1000), updated_at=ago(1000), account=account,
            consent=EmailConsent(state=consent, updated_at=ago(1000)),
        )

    def order(
        self,
        oid: str,
        days_ago: float,
        *,
        email: str | None = None,
        customer_id: str | None = None,
        lines: Sequence[tuple[str, int] | tuple[str, int, int]] = (("p1", 1),),
        cancelled: bool = False,
        test: bool = False,
        refunded: bool = False,
        accepts_marketing: bool | None = None,
        billing: tuple[str, str] | None = None,
        total: str = "20.00",
    ) -> Order:
        when = ago(days_ago)
        items = []
        for n, line in enumerate(lines):
            product_id, quantity = line[0], line[1]
            current = line[2] if len(line) > 2 else quantity  # type: ignore[misc]
            items.append(LineItem(id=f"{oid}-{n}", product_id=product_id, title=f"Product {product_id}",
                                  quantity=quantity, current_quantity=current, unit_price=eur("5.00")))
        return Order(
            platform=self.platform, store_id=self.store_id, id=oid, name=f"#{oid}", email=email,
            customer_id=customer_id, created_at=when, updated_at=when,
            cancelled_at=when if cancelled else None, test=test,
            financial_status=FinancialStatus.REFUNDED if refunded else FinancialStatus.PAID,
            total=eur(total), line_items=tuple(items), accepts_marketing=accepts_marketing,
            billing_address=Address(first_name=billing[0], last_name=billing[1]) if billing else None,
        )

    def product(self, pid: str, status: ProductStatus = ProductStatus.ACTIVE, price: str = "9.50") -> Product:
        return Product(
            platform=self.platform, store_id=self.store_id, id=pid, title=f"Product {pid}",
            url=f"https://shop.test/p/{pid}", image_url=f"https://shop.test/i/{pid}.jpg", status=status,
            price=eur(price), updated_at=ago(1),
        )

    def put(self, *records: Customer | Order | Product) -> None:
        for kind, resource in ((Customer, Resource.CUSTOMERS), (Product, Resource.PRODUCTS), (Order, Resource.ORDERS)):
            chosen = [r for r in records if isinstance(r, kind)]
            if chosen:
                self.store.commit_page(self.key, resource, Page(records=chosen), None)

    def ledger(self, rule: str, key: str, email: str, *, status: str = "done", created_at: datetime = NOW) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                tables.action_ledger.insert().values(
                    store_key=self.key, rule=rule, idempotency_key=key, email=email, lower_email=email.lower(),
                    kind="send_email", status=status, created_at=created_at, updated_at=created_at,
                )
            )


def emails(actions: Sequence[PlannedAction]) -> list[str]:
    return [action.email for action in actions]


@contextmanager
def count_statements(store: LocalStore) -> Iterator[list[str]]:
    """Collect every SQL statement sent to the database inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
