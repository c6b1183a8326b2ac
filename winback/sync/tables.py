"""The local store's schema (SQLAlchemy Core), shared by the store, the migrations and the rules.

Every row is keyed by ``store_key`` (``"{platform}:{store_id}"``, see :func:`store_key`) so one
database holds many stores. Record columns mirror :mod:`winback.model`; columns marked *derived*
are recomputed by the store (after each committed page, or once when a sync ends: see
``derived_pending``) and must not be written by anyone else.

Buyers by email
    ``buyers`` holds one row per (store, lower-cased email) that has at least one order, whether or
    not a customer row exists: Ecwid guest checkouts and Shopify ``customer: null`` orders appear
    here and nowhere else. A buyer's orders are the orders carrying that email plus the orders of
    customers whose email it is. ``buyers.customer_id`` names the customer row with that email, if
    any, so rules can go from a buyer to an account and back.

Money is :class:`~winback.sync.types.Amount` with a currency column next to it; times are
:class:`~winback.sync.types.UtcDateTime`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem

from winback.sync.types import Amount, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

Json = JSON().with_variant(postgresql.JSONB(), "postgresql")
StoreKey = String(300)
Id = String(255)
Email = String(320)
Currency = String(3)


def store_key(platform: str, store_id: str) -> str:
    """The key of one store in every table."""
    return f"{platform}:{store_id}"


def _store_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["store_key"], ["stores.key"], ondelete="CASCADE")


def _per_store(name: str, *items: SchemaItem) -> Table:
    """A table of one store's rows: ``store_key`` leads the primary key, and the rows go when the
    store's row does."""
    return Table(name, metadata, Column("store_key", StoreKey, primary_key=True), *items, _store_fk())


stores = Table(
    "stores",
    metadata,
    Column("key", StoreKey, primary_key=True),
    Column("platform", String(50), nullable=False),
    Column("store_id", Id, nullable=False),
    Column("name", Text, nullable=False),
    Column("currency", Currency, nullable=False),
    Column("url", Text),
    Column("email", Email),
    Column("timezone", String(64)),
    Column("logo_url", Text),
    Column("last_sync_started", UtcDateTime),
    Column("last_sync_finished", UtcDateTime),
    Column("last_error", Text),
    # added by 0004 (ALTER TABLE ADD COLUMN puts it last in every migrated database)
    Column("postal_address", Text, comment="added by 0004"),
    UniqueConstraint("platform", "store_id", name="uq_stores_platform_store_id"),
)

customers = _per_store(
    "customers",
    Column("id", Id, primary_key=True),
    Column("email", Email),
    Column("lower_email", Email),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("phone", String(64)),
    Column("created_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("account_state", String(16), nullable=False),
    Column("consent_state", String(16), nullable=False),
    Column("consent_updated_at", UtcDateTime),
    Column("orders_count", Integer, comment="as reported by the platform"),
    Column("amount_spent", Amount, comment="as reported by the platform"),
    Column("amount_spent_currency", Currency),
    Column("tags", Json, nullable=False),
    Column("default_address", Json),
    Column("redacted", Boolean, nullable=False, server_default=false()),
    Column("deleted_at", UtcDateTime),
    Column("is_guest", Boolean, nullable=False, server_default=false()),
    # derived from orders (counts_as_purchase only)
    Column("first_order_at", UtcDateTime),
    Column("last_order_at", UtcDateTime),
    Column("real_orders_count", Integer, nullable=False, server_default=text("0")),
    Column("real_amount_spent", Amount, nullable=False, server_default=text("0")),
    # added by 0008: where the platform holds a birth date (see winback.rules.birthday)
    Column("birth_date", Date),
    Column("birth_md", Integer, comment="month * 100 + day of birth_date (0229 kept), for the birthday rule"),
    Index("ix_customers_store_last_order", "store_key", "last_order_at"),
    Index("ix_customers_store_lower_email", "store_key", "lower_email"),
    Index("ix_customers_store_birth_md", "store_key", "birth_md"),
)

orders = _per_store(
    "orders",
    Column("id", Id, primary_key=True),
    Column("customer_id", Id),
    Column("email", Email),
    Column("lower_email", Email),
    Column("name", String(255)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    Column("test", Boolean, nullable=False),
    Column("financial_status", String(32), nullable=False),
    Column("currency", Currency, nullable=False),
    Column("total", Amount, nullable=False),
    Column("current_total", Amount),
    Column("refunded", Amount),
    Column("accepts_marketing", Boolean),
    Column("billing_address", Json),
    # derived from the order itself when it is written
    Column("ordered_at", UtcDateTime, nullable=False, comment="processed_at, else created_at"),
    Column("net_total", Amount, nullable=False, comment="current_total, else total - refunded"),
    Column("counts_as_purchase", Boolean, nullable=False),
    # added by 0005: codes the buyer used, to link redemptions to the ledger (winback.report)
    Column("discount_codes", Json),
    # added by 0010: when the order was fulfilled / delivered (winback.rules.feedback_request)
    Column("fulfillment_status", String(32)),
    Column("fulfilled_at", UtcDateTime, comment="earliest seen: see winback.model.Order.fulfilled_at"),
    Column("delivered_at", UtcDateTime),
    Index("ix_orders_store_customer", "store_key", "customer_id"),
    Index("ix_orders_store_lower_email", "store_key", "lower_email"),
    Index("ix_orders_store_fulfilled", "store_key", "fulfilled_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("store_key", StoreKey, primary_key=True),
    Column("order_id", Id, primary_key=True),
    Column("id", Id, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("product_id", Id),
    Column("variant_id", Id),
    Column("sku", String(255)),
    Column("title", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("current_quantity", Integer, nullable=False),
    Column("unit_price", Amount),
    Column("currency", Currency),
    ForeignKeyConstraint(
        ["store_key", "order_id"], ["orders.store_key", "orders.id"], ondelete="CASCADE",
        name="fk_order_lines_order",
    ),
    Index("ix_order_lines_store_product", "store_key", "product_id"),
)

products = _per_store(
    "products",
    Column("id", Id, primary_key=True),
    Column("title", Text, nullable=False),
    Column("handle", String(255)),
    Column("url", Text),
    Column("image_url", Text),
    Column("status", String(16), nullable=False),
    Column("price", Amount),
    Column("currency", Currency),
    Column("created_at", UtcDateTime),
    Column("updated_at", UtcDateTime),
)

buyers = _per_store(
    "buyers",
    Column("lower_email", Email, primary_key=True),
    Column("email", Email, nullable=False, comment="as written on the newest order"),
    Column("customer_id", Id, comment="the customer row with this email, if any"),
    Column("is_guest", Boolean, nullable=False, comment="no customer row, or its account is a guest"),
    Column("orders_count", Integer, nullable=False, comment="all orders, real or not"),
    Column("real_orders_count", Integer, nullable=False),
    Column("real_amount_spent", Amount, nullable=False),
    Column("first_order_at", UtcDateTime),
    Column("last_order_at", UtcDateTime),
    Column("last_order_id", Id),
    Index("ix_buyers_store_last_order", "store_key", "last_order_at"),
)

redactions = _per_store(
    "redactions",
    Column("email_hash", String(64), primary_key=True, comment="sha256 of store_key + lower email"),
    Column("redacted_at", UtcDateTime, nullable=False),
)

deletions = _per_store(
    "deletions",
    Column("resource", String(32), primary_key=True),
    Column("record_id", Id, primary_key=True),
    Column("deleted_at", UtcDateTime, nullable=False, comment="when the platform deleted it"),
    Column("applied_at", UtcDateTime, nullable=False, comment="when winback removed its copy"),
)
"""Records deleted on the platform (their rows are gone; see :mod:`winback.sync.deletions`). A copy
read later that is not newer than ``deleted_at`` is refused, so a stale read cannot resurrect it."""

derived_pending = _per_store(
    "derived_pending",
    Column("kind", String(16), primary_key=True, comment="customer | buyer"),
    Column("value", String(320), primary_key=True, comment="customers.id or buyers.lower_email"),
)
"""Customers and buyers whose derived facts a sync has yet to recompute: written with each batch
of pages, emptied when the sync ends (see :mod:`winback.sync.derive`)."""

sync_cursors = _per_store(
    "sync_cursors",
    Column("resource", String(32), primary_key=True),
    Column("cursor_updated_at", UtcDateTime, comment="max updated_at committed; only moves forward"),
    Column("last_run_at", UtcDateTime),
    Column("records_seen", BigInteger, nullable=False, server_default=text("0")),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("store_key", StoreKey, nullable=False),
    Column("resource", String(32), nullable=False),
    Column("record_key", String(300), nullable=False, comment="record_id, or sha256 of the raw payload"),
    Column("record_id", Id),
    Column("reason", Text, nullable=False),
    Column("raw", Json, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("times_seen", Integer, nullable=False, server_default=text("1")),
    Column("resolved", Boolean, nullable=False, server_default=false()),
    Column("resolved_at", UtcDateTime),
    _store_fk(),
    UniqueConstraint("store_key", "resource", "record_key", name="uq_quarantine_record"),
)

action_ledger = Table(
    "action_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("store_key", StoreKey, nullable=False),
    Column("rule", String(100), nullable=False),
    Column("idempotency_key", String(300), nullable=False),
    Column("customer_id", Id),
    Column("email", Email),
    Column("kind", String(50), nullable=False),
    Column("status", String(16), nullable=False, comment="planned | running | done | failed | skipped"),
    Column("reason", Text),
    Column("created_ref", Json),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("error", Text),
    # added by 0002: what the executor needs to act at most once (see winback.rules.ledger)
    Column("lower_email", Email),
    Column("payload", Json),
    Column("step_states", Json, comment="{step: started | done | skipped}"),
    Column("marketing", Boolean, nullable=False, server_default=false()),
    Column("email_started_at", UtcDateTime, comment="set and committed just before the mail is handed over"),
    Column("needs_review", Boolean, nullable=False, server_default=false()),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("finished_at", UtcDateTime),
    # added by 0005: a would-be recipient kept out as a control (no message, no code; winback.report)
    Column("holdout", Boolean, nullable=False, server_default=false()),
    # added by 0009: where an action stands in its rule's sequence (winback.rules.sequences)
    Column("anchor", String(255), comment="what the intent hangs on, e.g. the last order id of a lapse"),
    Column("sequence_step", Integer, comment="0-based step of the rule's sequence"),
    Column("variant", String(50), comment="how the rule decided, e.g. its timing"),
    _store_fk(),
    UniqueConstraint("store_key", "idempotency_key", name="uq_action_ledger_idempotency_key"),
    Index("ix_action_ledger_store_rule_status", "store_key", "rule", "status"),
    Index("ix_action_ledger_marketing_email", "store_key", "lower_email", "email_started_at"),
    Index("ix_action_ledger_sequence", "store_key", "rule", "lower_email", "anchor"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("store_key", StoreKey, comment="NULL: every store in this database"),
    Column("lower_email", Email, nullable=False),
    Column("reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_suppressions_lower_email", "lower_email", "store_key"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("store_key", StoreKey, nullable=False),
    Column("client", String(200), nullable=False),
    Column("task_id", String(64), comment="the Celery task id; NULL for a run outside the workers"),
    Column("worker", String(255), comment="the worker's hostname (celery@host)"),
    Column("attempt", Integer, nullable=False, server_default=text("0")),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("outcome", String(16), nullable=False, comment="running | ok | failed | retrying | busy | lost"),
    Column("error", Text),
    Index("ix_runs_store_key_started_at", "store_key", "started_at"),
    Index("ix_runs_task_id", "task_id"),
)
"""One row per client run a worker started (added by 0006; see winback.workers.runs). No foreign
key: a run is recorded before its first sync creates the store's row."""

LEDGER_STATUSES = ("planned", "running", "done", "failed", "skipped")

# --- added by 0004: what ``winback serve`` keeps (see winback.rules.consent, winback.web) --------

consent_changes = Table(
    "consent_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("store_key", StoreKey, nullable=False),
    Column("lower_email", Email, nullable=False),
    Column("subscribed", Boolean, nullable=False, comment="the consent the platform must end up with"),
    Column("source", String(32), nullable=False, comment="one-click | page | undo"),
    Column("status", String(16), nullable=False, comment="pending | pushing | done | cancelled"),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("result", String(16), comment="written | already | no_customer"),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Index("ix_consent_changes_status", "status", "store_key"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("source", String(16), primary_key=True, comment="shopify | ecwid"),
    Column("event_id", String(255), primary_key=True, comment="X-Shopify-Webhook-Id; Ecwid eventId"),
    Column("store_key", StoreKey, nullable=False),
    Column("topic", String(64), nullable=False),
    Column("payload", Json, comment="kept until handled, then dropped (it may hold personal data)"),
    Column("status", String(16), nullable=False, comment="received | done | failed"),
    Column("received_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("error", Text),
    Index("ix_webhook_events_status", "status"),
)

store_connections = Table(
    "store_connections",
    metadata,
    Column("store_key", StoreKey, primary_key=True),
    Column("disconnected_at", UtcDateTime, comment="app/uninstalled received; NULL: connected"),
    Column("reason", Text),
)

# --- added by 0010: answers to feedback requests (see winback.sync.feedback) ---------------------------

feedback = Table(
    "feedback",
    metadata,
    Column("store_key", StoreKey, primary_key=True),
    Column("order_id", Id, primary_key=True),
    Column("lower_email", Email, comment="the order's buyer when answered; NULL once redacted"),
    Column("score", Integer, nullable=False, comment="0-10 (NPS scale); the last click wins"),
    Column("comment", Text),
    Column("source", String(16), nullable=False, comment="serve: clicked on winback serve (the only source so far)"),
    Column("clicks", Integer, nullable=False, server_default=text("1")),
    Column("first_answered_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime, nullable=False),
    Index("ix_feedback_store_key_answered_at", "store_key", "answered_at"),
)
"""One answer per (store, order): clicking another score on the same email updates the row.
No foreign key to ``orders``: an answer outlives the order's deletion on the platform."""
