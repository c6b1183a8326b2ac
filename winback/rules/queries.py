"""Set-based SQL shared by the built-in rules (SQLAlchemy Core; SQLite and PostgreSQL).

Audiences start from ``buyers`` (one row per store and lower-cased email, guests included) and
are filtered entirely in SQL: consent, redaction, timing and "already done" in the action ledger.
Callers stream the result in batches (:func:`stream_batches`) and run at most one extra query per
batch (e.g. :func:`purchased_products`), so the number of statements per plan grows with
``audience / batch`` and never with the number of customers.

A buyer's orders are the orders carrying their email plus the orders of their customer row
(:attr:`buyers.c.customer_id`), as in :mod:`winback.sync.derive`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    union,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from winback.model import ConsentState, ProductStatus
from winback.rules.base import StoreFacts
from winback.rules.ledger_entries import SETTLED
from winback.sync import tables
from winback.sync.types import UtcDateTime

BATCH = 500
"""Rows per streamed batch, and so per extra per-batch query."""

buyer = tables.buyers.alias("b")
"""The audience's driving table, one row per buyer: rules select from this alias and the
predicates below correlate with it."""
_customers = tables.customers
_orders = tables.orders
_lines = tables.order_lines
_products = tables.products
_ledger = tables.action_ledger


# --- portable date arithmetic --------------------------------------------------------------------


class epoch_days(FunctionElement[float]):
    """A timestamp as a number of days (fractional), for differences between two timestamps.

    SQLite: ``julianday(x)`` (works on the stored UTC text); PostgreSQL: epoch seconds / 86400.
    Only differences are meaningful: the origins differ between dialects.
    """

    type = Float()
    inherit_cache = True
    name = "epoch_days"


@compiles(epoch_days, "sqlite")
def _epoch_days_sqlite(element: epoch_days, compiler: Any, **kw: Any) -> str:
    return f"julianday({compiler.process(element.clauses, **kw)})"


@compiles(epoch_days, "postgresql")
def _epoch_days_postgresql(element: epoch_days, compiler: Any, **kw: Any) -> str:
    return f"(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) / 86400.0)"


def at_time(value: datetime, name: str) -> ColumnElement[datetime]:
    """``value`` as a typed bound parameter (stored format on SQLite)."""
    return bindparam(name, value, type_=UtcDateTime())


# --- buyer predicates ----------------------------------------------------------------------------


def newest_order(column: Any) -> Any:
    """A scalar subquery: ``column`` of the buyer's newest order by email (real or not)."""
    return (
        select(column)
        .where(_orders.c.store_key == buyer.c.store_key, _orders.c.lower_email == buyer.c.lower_email)
        .order_by(_orders.c.ordered_at.desc(), _orders.c.id.desc())
        .limit(1)
        .correlate(buyer)
        .scalar_subquery()
    )


def buyer_joined(customer: Any, last_order: Any = None) -> Any:
    """``buyer`` outer-joined with its customer row (``customer``, an alias of ``customers``) and,
    when given, its last order (``last_order``, an alias of ``orders``); either may be missing."""
    joined = buyer.outerjoin(
        customer, and_(customer.c.store_key == buyer.c.store_key, customer.c.id == buyer.c.customer_id)
    )
    if last_order is not None:
        joined = joined.outerjoin(
            last_order, and_(last_order.c.store_key == buyer.c.store_key, last_order.c.id == buyer.c.last_order_id)
        )
    return joined


def _customer_with_state(state: ConsentState) -> Any:
    return exists().where(
        _customers.c.store_key == buyer.c.store_key,
        _customers.c.lower_email == buyer.c.lower_email,
        _customers.c.consent_state == state.value,
        _customers.c.redacted.is_(False),
        _customers.c.deleted_at.is_(None),
    )


def _registered_order() -> Any:
    """An ``EXISTS``: some order with the buyer's email belongs to a customer account."""
    return exists().where(
        _orders.c.store_key == buyer.c.store_key,
        _orders.c.lower_email == buyer.c.lower_email,
        _orders.c.customer_id.is_not(None),
    )


def guest() -> ColumnElement[bool]:
    """A true guest: no customer row and no order placed from a customer account. A registered
    buyer whose row we lack (deleted, or never synced because the token cannot read customers)
    is not a guest: their consent is unknown, so the order's "accept marketing" must not count."""
    return and_(buyer.c.customer_id.is_(None), not_(_registered_order()))


def subscribed() -> ColumnElement[bool]:
    """May get marketing mail: a live customer row with the email is SUBSCRIBED and none is
    UNSUBSCRIBED; a true guest (:func:`guest`, e.g. an Ecwid guest checkout) ticked "accept
    marketing" on their newest order."""
    return or_(
        and_(
            buyer.c.customer_id.is_not(None),
            _customer_with_state(ConsentState.SUBSCRIBED),
            not_(_customer_with_state(ConsentState.UNSUBSCRIBED)),
        ),
        and_(guest(), newest_order(_orders.c.accepts_marketing).is_(True)),
    )


def not_redacted(customer: Any) -> ColumnElement[bool]:
    """The buyer's customer row (outer-joined as ``customer``), if any, is neither redacted nor
    deleted. Redacted emails have no buyer row at all; this covers rows flagged in between."""
    return or_(customer.c.id.is_(None), and_(customer.c.redacted.is_(False), customer.c.deleted_at.is_(None)))


def settled_in_ledger(store_key: str, rule: str, *, since: Any = None) -> Any:
    """An ``EXISTS`` for a settled ledger row of ``rule`` for the buyer's email, created at or
    after ``since`` (a column or value) when given."""
    condition = exists().where(
        _ledger.c.store_key == store_key,
        _ledger.c.lower_email == buyer.c.lower_email,
        _ledger.c.rule == rule,
        _ledger.c.status.in_(SETTLED),
    )
    if since is not None:
        condition = condition.where(_ledger.c.created_at >= since)
    return condition


def real_orders_before(store_key: str, before: datetime) -> Any:
    """A scalar subquery: how many real orders the buyer placed before ``before`` (those with
    their email, plus those of their customer row with another email or none)."""

    def count(*match: ColumnElement[bool]) -> Any:
        return (
            select(func.count())
            .select_from(_orders)
            .where(
                _orders.c.store_key == store_key,
                *match,
                _orders.c.counts_as_purchase.is_(True),
                _orders.c.ordered_at < at_time(before, "orders_before"),
            )
            .correlate(buyer)
            .scalar_subquery()
        )

    by_email = count(_orders.c.lower_email == buyer.c.lower_email)
    by_customer = count(
        _orders.c.customer_id == buyer.c.customer_id,
        or_(_orders.c.lower_email.is_(None), _orders.c.lower_email != buyer.c.lower_email),
    )
    return by_email + by_customer


def recent_live_order(store_key: str, since: datetime) -> ColumnElement[bool]:
    """The buyer placed an order that is not cancelled and not a test at or after ``since``
    (real, or e.g. awaiting payment or refunded)."""
    live = and_(
        _orders.c.store_key == store_key,
        _orders.c.cancelled_at.is_(None),
        _orders.c.test.is_(False),
        _orders.c.ordered_at >= at_time(since, "live_since"),
    )
    return or_(
        buyer.c.last_order_at >= at_time(since, "live_since"),
        and_(
            buyer.c.orders_count > buyer.c.real_orders_count,
            or_(
                exists().where(live, _orders.c.lower_email == buyer.c.lower_email),
                and_(
                    buyer.c.customer_id.is_not(None),
                    exists().where(live, _orders.c.customer_id == buyer.c.customer_id),
                ),
            ),
        ),
    )


# --- names ---------------------------------------------------------------------------------------


def person_name(first: str | None, last: str | None, billing: Any) -> tuple[str | None, str | None]:
    """First and last name: the customer row's, else the billing address of the order joined."""
    if first or last:
        return first or None, last or None
    if isinstance(billing, dict):
        return billing.get("first_name") or None, billing.get("last_name") or None
    return None, None


def full_name(first: str | None, last: str | None) -> str | None:
    """"First Last" from whichever parts exist; ``None`` when neither does."""
    return " ".join(part for part in (first, last) if part) or None


# --- streaming -----------------------------------------------------------------------------------


def stream_batches(conn: Connection, query: Select[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    """Run ``query`` once and yield its rows ``size`` at a time (server-side cursor on
    PostgreSQL), so memory stays flat however large the audience."""
    result = conn.execute(query.execution_options(yield_per=size))
    try:
        yield from result.partitions(size)
    finally:
        result.close()


# --- bestsellers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bestseller:
    id: str
    title: str
    url: str | None
    image_url: str | None
    price: Decimal | None
    currency: str | None
    units: int

    def context(self, store_currency: str) -> dict[str, Any]:
        """One entry of the template's ``products`` list."""
        return {
            "title": self.title,
            "url": self.url,
            "image_url": self.image_url,
            "price": None if self.price is None else money_text(self.price),
            "currency": self.currency or store_currency,
        }


def money_text(amount: Decimal) -> str:
    """``9.5000`` as ``9.50``; more decimals only when they carry a value."""
    cents = amount.quantize(Decimal("0.01"))
    return str(cents) if cents == amount else str(amount.normalize())


def bestsellers(conn: Connection, store_key: str, since: datetime, limit: int) -> list[Bestseller]:
    """The ``limit`` active products with the most units sold net of refunds (sum of
    ``current_quantity``) on real orders placed at or after ``since``; ties by product id."""
    # Orders first (one scan of the window), then their lines by primary key: SQLite otherwise walks
    # every line through the product index and looks its order up at random.
    real_orders = select(_orders.c.id).where(
        _orders.c.store_key == store_key,
        _orders.c.counts_as_purchase.is_(True),
        _orders.c.ordered_at >= at_time(since, "sold_since"),
    )
    sold = (
        select(_lines.c.product_id.label("product_id"), func.sum(_lines.c.current_quantity).label("units"))
        .where(_lines.c.store_key == store_key, _lines.c.order_id.in_(real_orders))
        .group_by(_lines.c.product_id)
        .subquery("sold")
    )
    query = (
        select(
            _products.c.id, _products.c.title, _products.c.url, _products.c.image_url,
            _products.c.price, _products.c.currency, sold.c.units,
        )
        .select_from(sold.join(_products, and_(_products.c.store_key == store_key, _products.c.id == sold.c.product_id)))
        .where(_products.c.status == ProductStatus.ACTIVE.value, sold.c.units > 0)
        .order_by(sold.c.units.desc(), _products.c.id)
        .limit(limit)
    )
    return [
        Bestseller(row.id, row.title, row.url, row.image_url, row.price, row.currency, int(row.units))
        for row in conn.execute(query)
    ]


def purchased_products(
    conn: Connection,
    store_key: str,
    buyers: Sequence[tuple[str, str | None]],
    product_ids: Sequence[str],
) -> dict[str, set[str]]:
    """Which of ``product_ids`` each buyer (``(lower_email, customer_id)``) has bought on a real
    order: one query for the whole batch.

    The query reads every line of the batch's orders and ``product_ids`` is applied here: in SQL,
    a filter on the bestsellers' ids makes SQLite walk all their lines store-wide through the
    product index instead of the few orders of the batch.
    """
    found: dict[str, set[str]] = {}
    if not buyers or not product_ids:
        return found
    wanted = set(product_ids)
    emails = sorted({email for email, _ in buyers})
    owner = {customer_id: email for email, customer_id in buyers if customer_id}
    joined = _orders.join(_lines, and_(_lines.c.store_key == _orders.c.store_key, _lines.c.order_id == _orders.c.id))
    common = (_orders.c.store_key == store_key, _orders.c.counts_as_purchase.is_(True))
    parts = [
        select(_orders.c.lower_email.label("owner"), literal(False).label("by_id"), _lines.c.product_id)
        .select_from(joined)
        .where(*common, _orders.c.lower_email.in_(emails))
    ]
    if owner:
        parts.append(
            select(_orders.c.customer_id.label("owner"), literal(True).label("by_id"), _lines.c.product_id)
            .select_from(joined)
            .where(*common, _orders.c.customer_id.in_(sorted(owner)))
        )
    query = union(*parts) if len(parts) > 1 else parts[0].distinct()
    for key, by_id, product_id in conn.execute(query):
        if product_id not in wanted:
            continue
        email = owner.get(key) if by_id else key
        if email is not None:
            found.setdefault(email, set()).add(product_id)
    return found
