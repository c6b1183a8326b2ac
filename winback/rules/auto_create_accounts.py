"""``auto_create_accounts``: give recent guest buyers an account on the store.

Ecwid creates an account for a buyer's email after an order (sign-in by emailed link); stores
where that did not happen, and Shopify stores on classic accounts, leave guests without one. This
rule proposes, once per email address, what the store needs:

* :attr:`InviteMode.CREATE_CUSTOMER` (Ecwid): ``CREATE_ACCOUNT`` then, with ``send_email``, an
  ``account_created`` email with the storefront's sign-in page;
* :attr:`InviteMode.SEND_INVITE` (Shopify classic accounts): ``SEND_INVITE`` for the DISABLED
  customer the guest checkout created; Shopify sends its own invite email;
* :attr:`InviteMode.NOT_NEEDED` (Shopify new customer accounts, passwordless): an action with
  ``steps=()``. **Contract with the planner and executor: an action without steps means "record
  as skipped with this reason"**, so the reason is visible once and the email is not planned again.

Account mail is transactional (``marketing=False``): no consent needed. Only guests with an order
that is neither cancelled nor a test in the last ``since_days`` qualify, so the first run does not
write to years of past guests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import select

from winback.connectors.base import InviteMode
from winback.model import NewCustomer
from winback.rules import queries, samples
from winback.rules.base import (
    PlannedAction,
    Rule,
    RuleContext,
    RuleOptions,
    Step,
    idempotency_key,
)
from winback.rules.compose import customer_context
from winback.rules.queries import buyer
from winback.sync import tables

NOT_NEEDED_REASON = "not needed: the store uses new customer accounts (sign-in by emailed code)"


class AutoCreateAccountsOptions(RuleOptions):
    """``[rules.auto_create_accounts]``."""

    since_days: int = Field(default=30, ge=1)
    """Only guests with an order (not cancelled, not a test) in this many days."""
    send_email: bool = True
    """Where winback creates the account itself (Ecwid), also email the sign-in link."""
    sign_in_path: str = Field(default="/account", pattern=r"^/")
    """Appended to the store URL for the email's ``sign_in_url`` (Ecwid's account page)."""


class AutoCreateAccounts(Rule):
    """Recent guest buyers get an account (or the platform's invite), once per email."""

    name = "auto_create_accounts"
    options_model = AutoCreateAccountsOptions
    description = "create accounts for (or invite) recent guest buyers"

    options: AutoCreateAccountsOptions

    def audience(self, context: RuleContext) -> Any:
        store_key, now = context.facts.store_key, context.now
        customer = tables.customers.alias("c")
        return (
            select(
                buyer.c.lower_email, buyer.c.email, buyer.c.customer_id, customer.c.first_name, customer.c.last_name,
                queries.newest_order(tables.orders.c.billing_address).label("billing_address"),
            )
            .select_from(queries.buyer_joined(customer))
            .where(
                buyer.c.store_key == store_key,
                buyer.c.is_guest.is_(True),
                buyer.c.email.is_not(None),
                buyer.c.email != "",
                queries.not_redacted(customer),
                queries.recent_live_order(store_key, now - timedelta(days=self.options.since_days)),
                ~queries.settled_in_ledger(store_key, self.name),
            )
            .order_by(buyer.c.lower_email)
        )

    def mode(self, context: RuleContext) -> InviteMode:
        if context.capabilities is not None:
            return context.capabilities.invite_mode
        # No capabilities at all (a platform winback cannot load): creating the customer is the
        # one mode that needs nothing from the platform but the customer record itself.
        return InviteMode.CREATE_CUSTOMER

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        """One action per recent guest email, by email; see the module docstring for the steps."""
        mode = self.mode(context)
        with context.store.reading() as conn:
            for batch in queries.stream_batches(conn, self.audience(context)):
                for row in batch:
                    yield self._action(context, mode, row)

    def sample_actions(self, context: RuleContext) -> list[PlannedAction]:
        """The account-created email, whatever the store's mode (it is the only email this rule sends)."""
        return [self._action(context, InviteMode.CREATE_CUSTOMER, samples.sample_buyer(context.now))]

    def _action(self, context: RuleContext, mode: InviteMode, row: Any) -> PlannedAction:
        facts = context.facts
        first, last = queries.person_name(row.first_name, row.last_name, row.billing_address)
        steps: tuple[Step, ...]
        payload: dict[str, Any] = {}
        if mode is InviteMode.NOT_NEEDED:
            steps, reason = (), NOT_NEEDED_REASON
        elif mode is InviteMode.SEND_INVITE:
            if row.customer_id is None:
                steps = ()
                reason = f"skipped: no customer record on {facts.platform} to invite (orders placed without one)"
            else:
                steps, reason = (Step.SEND_INVITE,), "guest buyer with a recent order: send the platform's account invite"
                payload["customer_id"] = row.customer_id
        else:
            account = NewCustomer(email=row.email, first_name=first, last_name=last, accepts_marketing=None)
            payload["account"] = account.model_dump(mode="json")
            steps, reason = (Step.CREATE_ACCOUNT,), "guest buyer with a recent order: create their account"
            if self.options.send_email and facts.url:
                steps += (Step.SEND_EMAIL,)
                payload["email"] = {
                    "template": "account_created",
                    "context": {
                        "customer": customer_context(row.email, first, last),
                        "sign_in_url": facts.url.rstrip("/") + self.options.sign_in_path,
                    },
                }
                reason += " and email the sign-in link"
            elif self.options.send_email:
                reason += " (no email: the store has no URL to sign in at)"
        return PlannedAction(
            rule=self.name,
            idempotency_key=idempotency_key(self.name, facts.store_key, row.lower_email),
            store_key=facts.store_key,
            email=row.email,
            customer_id=row.customer_id,
            recipient_name=" ".join(part for part in (first, last) if part) or None,
            reason=reason,
            steps=steps,
            marketing=False,
            payload=payload,
        )
