"""Tiny stores for the report's tests: every order written through the real sync path
(:meth:`LocalStore.commit_page`), ledger rows through the real ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from winback import model
from winback.connectors.base import Page, Resource
from winback.rules.base import PlannedAction, SequencePosition, Step
from winback.rules.ledger import DONE, SKIPPED, Ledger
from winback.sync import LocalStore, tables

STORE_KEY = "ecwid:4242"


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def order(oid: str, email: str, when: str, total: str, **extra: Any) -> model.Order:
    moment = day(when)
    refunded = extra.pop("refunded", None)
    return model.Order(
        platform="ecwid", store_id="4242", id=oid, email=email, customer_id=None, created_at=moment,
        updated_at=moment, total=model.Money(amount=Decimal(total), currency="EUR"),
        refunded=None if refunded is None else model.Money(amount=Decimal(refunded), currency="EUR"),
        financial_status=extra.pop("status", model.FinancialStatus.PAID), **extra,
    )


def seed(store: LocalStore, orders: list[model.Order]) -> None:
    store.upsert_store(model.Store(platform="ecwid", store_id="4242", name="Tiny Shop", currency="EUR"))
    store.commit_page(STORE_KEY, Resource.ORDERS, Page(records=orders), None)


def record_action(store: LocalStore, email: str, when: str, *, holdout: bool = False, code: str | None = None,
                  rule: str = "back_to_bestsellers", variant: str | None = None, step: int | None = None) -> None:
    """A ledger row as the executor leaves it: sent (email handed over at ``when``) or held out."""
    moment = day(when)
    action = PlannedAction(
        rule=rule, idempotency_key=f"{rule}:{email}:{when}:{step}", store_key=STORE_KEY, email=email, customer_id=None,
        recipient_name=None, reason="lapsed", steps=() if holdout else (Step.SEND_EMAIL,), marketing=True,
        holdout=holdout, variant=variant,
        sequence=None if step is None else SequencePosition(anchor=f"{email}:{when}", index=step, of=step + 1),
    )
    ledger = Ledger(store)
    entry = ledger.claim(action, moment)
    if holdout:
        ledger.finish(entry.id, SKIPPED, moment, error="held out")
        return
    if code:
        ledger.step_done(entry.id, Step.CREATE_DISCOUNT_CODE, moment, {"discount_code": code})
    ledger.email_started(entry.id, moment)
    ledger.finish(entry.id, DONE, moment)
    with store.writing() as conn:  # the executor's clock is the action's moment
        conn.execute(update(tables.action_ledger).where(tables.action_ledger.c.id == entry.id)
                     .values(email_started_at=moment))
