"""Fakes for the rules engine's unit tests: a tiny rule, a connector that records its writes, a
sender that records its messages, and a seeded local store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from winback import errors, model
from winback.connectors.base import Capabilities, Connector, InviteMode, Page, Resource
from winback.rules.base import (
    PlannedAction,
    Rule,
    RuleContext,
    RuleOptions,
    Step,
    StoreFacts,
    idempotency_key,
)
from winback.sync import LocalStore, open_store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STORE_ID = "test-shop"
KEY = f"fake:{STORE_ID}"


class EmailEveryoneOptions(RuleOptions):
    template: str = "back_to_bestsellers"
    marketing: bool = True
    discount: bool = False
    account: bool = False
    only: tuple[str, ...] = ()


class EmailEveryone(Rule):
    """Proposes one action per customer row (test-sized stores only), keyed by rule and email."""

    name: ClassVar[str] = "email_everyone"
    options_model = EmailEveryoneOptions

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        opts = self.options
        assert isinstance(opts, EmailEveryoneOptions)
        from sqlalchemy import select

        from winback.sync import tables

        c = tables.customers
        with context.store.engine.connect() as conn:
            rows = conn.execute(
                select(c.c.id, c.c.email, c.c.first_name).where(c.c.store_key == context.facts.store_key).order_by(c.c.lower_email)
            ).all()
        for cid, email, first in rows:
            if opts.only and email not in opts.only:
                continue
            steps: list[Step] = []
            payload: dict[str, Any] = {}
            if opts.account:
                steps += [Step.CREATE_ACCOUNT, Step.SEND_INVITE]
                payload["account"] = {"email": email, "first_name": first}
            code = f"WB-{self.name.upper()}-{cid}"
            if opts.discount:
                steps.append(Step.CREATE_DISCOUNT_CODE)
                payload["discount"] = {
                    "code": code, "title": "winback test", "kind": "percentage", "value": "10",
                    "starts_at": NOW.isoformat(),
                }
            steps.append(Step.SEND_EMAIL)
            payload["email"] = {
                "template": opts.template,
                "context": {
                    "customer": {"email": email, "first_name": first},
                    "reason_text": "We miss you.",
                    "days_since": 194,
                    "last_order_at": "2026-05-12T10:00:00+00:00",
                    "products": [],
                    "sign_in_url": "https://shop.example/account",
                },
            }
            yield PlannedAction(
                rule=self.name,
                idempotency_key=idempotency_key(self.name, email),
                store_key=context.facts.store_key,
                email=email,
                customer_id=cid,
                recipient_name=first,
                reason=f"test reason for {first}",
                steps=tuple(steps),
                marketing=opts.marketing,
                payload=payload,
            )


class EmailEveryoneAgain(EmailEveryone):
    name: ClassVar[str] = "email_everyone_again"


class FakeSender:
    """Records messages; optionally fails."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.sent: list[EmailMessage] = []
        self.fail = fail
        self.closed = False

    async def send(self, message: EmailMessage) -> str:
        if self.fail is not None:
            raise self.fail
        self.sent.append(message)
        return str(message["Message-ID"])

    async def aclose(self) -> None:
        self.closed = True

    def recipients(self) -> list[str]:
        return [str(m["To"]) for m in self.sent]


class _Settings(BaseModel):
    pass


class FakeConnector(Connector):
    """In-memory platform writes; counts every call."""

    platform = "fake"
    settings_model = _Settings

    def __init__(self, invite_mode: InviteMode = InviteMode.CREATE_CUSTOMER) -> None:
        self.invite_mode = invite_mode
        self.codes: dict[str, model.DiscountCode] = {}
        self.customers: dict[str, model.Customer] = {}
        self.invites: list[str] = []
        self.calls: list[str] = []
        self.customer_locked = False
        """Whether codes are locked to their customer (``Capabilities.customer_locked_codes``)."""
        self.fail_create_code: BaseException | None = None
        self.fail_after_create_code: BaseException | None = None

    @classmethod
    def from_settings(
        cls, settings: Any, *, transport: httpx.AsyncBaseTransport | None = None, secret_store: object = None
    ) -> FakeConnector:
        return cls()

    @property
    def store_label(self) -> str:
        return "fake test shop"

    @property
    def store_id(self) -> str:
        return STORE_ID

    async def aclose(self) -> None:
        return None

    async def store_info(self) -> model.Store:
        return model.Store(platform="fake", store_id=STORE_ID, name="Test Shop", currency="EUR")

    async def capabilities(self) -> Capabilities:
        return Capabilities(invite_mode=self.invite_mode, customer_locked_codes=self.customer_locked)

    async def check_access(self) -> Any:
        raise NotImplementedError

    async def customers(self, updated_since: datetime | None = None) -> Any:  # type: ignore[override]
        raise NotImplementedError

    async def orders(self, updated_since: datetime | None = None, *, full: bool = False) -> Any:  # type: ignore[override]
        raise NotImplementedError

    async def products(self) -> Any:  # type: ignore[override]
        raise NotImplementedError

    async def find_discount_code(self, code: str) -> model.DiscountCode | None:
        self.calls.append(f"find_discount_code {code}")
        return self.codes.get(code)

    async def create_discount_code(self, spec: model.DiscountCodeSpec) -> model.DiscountCode:
        self.calls.append(f"create_discount_code {spec.code}")
        if self.fail_create_code is not None:
            raise self.fail_create_code
        if spec.code in self.codes:
            raise errors.DiscountCodeTakenError(f"code {spec.code} is taken", store=self.store_label)
        created = model.DiscountCode(
            platform="fake", store_id=STORE_ID, id=f"d{len(self.codes) + 1}", code=spec.code, title=spec.title,
            kind=spec.kind, value=spec.value, starts_at=spec.starts_at.replace(microsecond=0),
            ends_at=spec.ends_at.replace(microsecond=0) if spec.ends_at else None,
            once_per_customer=spec.once_per_customer, usage_limit=spec.usage_limit,
            customer_ids=(spec.customer_id,) if self.customer_locked and spec.customer_id else (),
        )
        self.codes[spec.code] = created
        if self.fail_after_create_code is not None:
            raise self.fail_after_create_code
        return created

    async def find_customer_by_email(self, email: str) -> model.Customer | None:
        self.calls.append(f"find_customer_by_email {email}")
        return self.customers.get(email.lower())

    async def create_customer(self, spec: model.NewCustomer) -> model.Customer:
        self.calls.append(f"create_customer {spec.email}")
        if spec.email.lower() in self.customers:
            raise errors.CustomerExistsError("exists", store=self.store_label)
        created = model.Customer(platform="fake", store_id=STORE_ID, id=f"c{len(self.customers) + 1}",
                                 email=spec.email, updated_at=NOW)
        self.customers[spec.email.lower()] = created
        return created

    async def send_account_invite(self, customer_id: str) -> None:
        self.calls.append(f"send_account_invite {customer_id}")
        self.invites.append(customer_id)

    def writes(self) -> list[str]:
        return [c for c in self.calls if not c.startswith("find_")]


def customer(cid: str, email: str, consent: model.ConsentState = model.ConsentState.SUBSCRIBED, first: str = "Ann") -> model.Customer:
    return model.Customer(
        platform="fake", store_id=STORE_ID, id=cid, email=email, first_name=first, updated_at=NOW,
        consent=model.EmailConsent(state=consent),
    )


def seeded_store(path: Path | str, customers: list[model.Customer], *, timezone_name: str | None = "Europe/Berlin") -> LocalStore:
    store = open_store(str(path))
    store.upsert_store(
        model.Store(platform="fake", store_id=STORE_ID, name="Test Shop", currency="EUR",
                    url="https://shop.example", email="hello@shop.example", timezone=timezone_name)
    )
    store.commit_page(KEY, Resource.CUSTOMERS, Page(records=customers), None)
    return store


def facts(store: LocalStore) -> StoreFacts:
    from winback.rules.executor import stored_facts

    return stored_facts(store, KEY)


class EmailEveryoneOnce(EmailEveryone):
    """Leaves out customers it already acted on, as the built-in rules do in their SQL."""

    name: ClassVar[str] = "email_everyone_once"

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        from sqlalchemy import select

        from winback.rules.ledger import SETTLED
        from winback.sync import tables

        ledger = tables.action_ledger
        with context.store.engine.connect() as conn:
            settled = set(conn.execute(
                select(ledger.c.lower_email).where(
                    ledger.c.store_key == context.facts.store_key, ledger.c.rule == self.name,
                    ledger.c.status.in_(SETTLED),
                )
            ).scalars())
        return (action for action in super().plan(context) if action.email.lower() not in settled)
