"""``auto_create_accounts``: tell recent guest buyers, once, how to sign in to the account their
orders are in (or have the platform make one, where it needs that).

Platforms today keep an account for every buyer: Ecwid creates one for the buyer's email after an
order, and Shopify customer accounts (the only kind new stores get since February 2026) hold the
customer record every checkout creates. Both sign the buyer in with a one-time link or code, so
there is nothing to create; what helps is to tell a buyer who checked out as a guest that their
orders are in an account and where to sign in. Per platform mode, once per email address:

* :attr:`InviteMode.NOT_NEEDED` (Ecwid, Shopify customer accounts): with ``send_email``, an
  ``account_created`` email with the store's sign-in link, for a buyer the platform has a
  customer record for; none is a visible skip (no account holds their orders).
* :attr:`InviteMode.SEND_INVITE` (Shopify legacy accounts): ``SEND_INVITE`` for the DISABLED
  customer the guest checkout created; Shopify sends its own invite email.
* :attr:`InviteMode.CREATE_CUSTOMER` (a platform that keeps no account for guests):
  ``CREATE_ACCOUNT`` then, with ``send_email``, the same email.

**Contract with the planner and executor: an action without steps means "record as skipped with
this reason"**, so the reason is visible once and the buyer is not planned again.

A *guest buyer* placed an order that is neither cancelled nor a test in the last ``since_days``
either without a customer record (an Ecwid order without ``customerId``: the buyer was not signed
in) or as a customer whose account is a guest's (Shopify DISABLED). So the first run does not write
to years of past guests. Account mail is transactional (``marketing=False``): no consent needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import and_, exists, or_, select

from winback.connectors.base import InviteMode, Need
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

SIGN_IN = "sign-in with a one-time code or link"
NO_ACCOUNT_REASON = "skipped: no customer account on {platform} holds this buyer's orders, so there is none to sign in to"
NO_URL_REASON = "skipped: the store has no URL, so there is no sign-in link to send"
EMAIL_OFF_REASON = f"not needed: {{platform}} already keeps an account for this email ({SIGN_IN}) and send_email is off"


class AutoCreateAccountsOptions(RuleOptions):
    """``[rules.auto_create_accounts]``."""

    since_days: int = Field(default=30, ge=1)
    """Only guests with an order (not cancelled, not a test) in this many days."""
    send_email: bool = True
    """Email the buyer how to sign in, with the store's sign-in link (Shopify's legacy invite is
    Shopify's own email and does not need this)."""
    sign_in_path: str = Field(default="/account", pattern=r"^/")
    """Appended to the store URL for the email's ``sign_in_url``: the storefront's account page
    (on Shopify ``/account`` leads to the sign-in)."""


class AutoCreateAccounts(Rule):
    """Recent guest buyers hear once how to sign in (or get the platform's invite or an account)."""

    name = "auto_create_accounts"
    needs = frozenset({Need.READ_CUSTOMERS})
    """Whether a buyer has an account is told by the customer list: without it every guest would
    look account-less and be skipped for good."""
    options_model = AutoCreateAccountsOptions
    description = "tell recent guest buyers how to sign in to their account (invite or create where needed)"

    options: AutoCreateAccountsOptions

    def audience(self, context: RuleContext) -> Any:
        store_key, now = context.facts.store_key, context.now
        since = now - timedelta(days=self.options.since_days)
        customer = tables.customers.alias("c")
        orders = tables.orders
        guest_order = exists().where(
            orders.c.store_key == store_key,
            orders.c.lower_email == buyer.c.lower_email,
            orders.c.customer_id.is_(None),
            orders.c.cancelled_at.is_(None),
            orders.c.test.is_(False),
            orders.c.ordered_at >= queries.at_time(since, "guest_since"),
        )
        return (
            select(
                buyer.c.lower_email, buyer.c.email, buyer.c.customer_id, buyer.c.is_guest,
                customer.c.first_name, customer.c.last_name,
                queries.newest_order(tables.orders.c.billing_address).label("billing_address"),
            )
            .select_from(queries.buyer_joined(customer))
            .where(
                buyer.c.store_key == store_key,
                buyer.c.email.is_not(None),
                buyer.c.email != "",
                queries.not_redacted(customer),
                or_(and_(buyer.c.is_guest.is_(True), queries.recent_live_order(store_key, since)), guest_order),
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
        """The sign-in email, whatever the store's mode (it is the only email this rule sends)."""
        return [self._action(context, InviteMode.NOT_NEEDED, samples.sample_buyer(context.now))]

    def _action(self, context: RuleContext, mode: InviteMode, row: Any) -> PlannedAction:
        facts = context.facts
        platform = facts.platform
        first, last = queries.person_name(row.first_name, row.last_name, row.billing_address)
        is_guest = bool(getattr(row, "is_guest", True))
        steps: tuple[Step, ...] = ()
        payload: dict[str, Any] = {}
        if mode is InviteMode.SEND_INVITE:
            if row.customer_id is None:
                reason = f"skipped: no customer record on {platform} to invite (orders placed without one)"
            elif not is_guest:
                reason = f"skipped: the customer already has an account on {platform}: nothing to invite"
            else:
                steps = (Step.SEND_INVITE,)
                reason = f"guest buyer with a recent order: {platform} sends its legacy account invite"
                payload["customer_id"] = row.customer_id
        elif mode is InviteMode.CREATE_CUSTOMER and (row.customer_id is None or is_guest):
            account = NewCustomer(email=row.email, first_name=first, last_name=last, accepts_marketing=None)
            payload["account"] = account.model_dump(mode="json")
            steps, reason = (Step.CREATE_ACCOUNT,), "guest buyer with a recent order: create their account"
            if self.options.send_email and facts.url:
                steps += (Step.SEND_EMAIL,)
                reason += " and email how to sign in"
            elif self.options.send_email:
                reason += " (no email: the store has no URL to sign in at)"
        elif row.customer_id is None:
            reason = NO_ACCOUNT_REASON.format(platform=platform)
        elif not self.options.send_email:
            reason = EMAIL_OFF_REASON.format(platform=platform)
        elif not facts.url:
            reason = NO_URL_REASON
        else:
            steps = (Step.SEND_EMAIL,)
            reason = (f"guest buyer with a recent order: {platform} already keeps an account for this email "
                      f"({SIGN_IN}); email them how to sign in, once")
        if Step.SEND_EMAIL in steps:
            assert facts.url is not None
            payload["email"] = {
                "template": "account_created",
                "context": {
                    "customer": customer_context(row.email, first, last),
                    "sign_in_url": facts.url.rstrip("/") + self.options.sign_in_path,
                },
            }
        return PlannedAction(
            rule=self.name,
            idempotency_key=idempotency_key(self.name, facts.store_key, row.lower_email),
            store_key=facts.store_key,
            email=row.email,
            customer_id=row.customer_id,
            recipient_name=queries.full_name(first, last),
            reason=reason,
            steps=steps,
            marketing=False,
            payload=payload,
        )
