"""The birthday rule: who is near their birthday (29 February included), once a year, consent,
and the birth date synced from each platform's field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from tests.unit.test_rules_builtin_support import NOW, Shop, emails
from winback.connectors.ecwid.parse import parse_customer as parse_ecwid_customer
from winback.connectors.shopify.parse import parse_customer as parse_shopify_customer
from winback.model import ConsentState, birth_date_of
from winback.rules.base import Step, idempotency_key
from winback.rules.birthday import Birthday, upcoming
from winback.rules.guards import HoldReason, Limits
from winback.rules.planner import plan_client
from winback.sync import open_store, tables

TODAY = NOW.date()  # 22 November 2026


def rule(**options: object) -> Birthday:
    return Birthday({"discount": {"kind": "percentage", "value": 15}, **options})


@pytest.fixture
def store(tmp_path):
    opened = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    yield opened
    opened.close()


def born(shop: Shop, cid: str, when: date | None, **kw: object):
    return shop.customer(cid, **kw).model_copy(update={"birth_date": when})


def populate(shop: Shop) -> None:
    shop.put(
        born(shop, "today", date(1990, 11, 22)),
        born(shop, "in3", date(1985, 11, 25)),
        born(shop, "in7", date(2000, 11, 29)),
        born(shop, "in8", date(2000, 11, 30)),
        born(shop, "past", date(1970, 11, 21)),
        born(shop, "quiet", date(1990, 11, 23), consent=ConsentState.NOT_SUBSCRIBED),
        born(shop, "none", None),
    )


def test_upcoming_month_days_cover_the_window_and_29_february() -> None:
    days = upcoming(date(2027, 2, 25), 5)
    assert days[225] == date(2027, 2, 25) and days[302] == date(2027, 3, 2)
    assert days[229] == date(2027, 2, 28), "2027 is a common year: 29 February is celebrated on the 28th"
    assert 229 not in upcoming(date(2028, 2, 25), 2) or upcoming(date(2028, 2, 25), 4)[229] == date(2028, 2, 29)
    assert list(upcoming(date(2026, 12, 30), 3).values())[-1] == date(2027, 1, 2)


def test_subscribed_customers_whose_birthday_is_near_get_one_code(any_store) -> None:
    shop = Shop(any_store)
    populate(shop)
    actions = shop.plan(rule())
    assert emails(actions) == ["in3@example.com", "in7@example.com", "today@example.com"]
    in3 = actions[0]
    assert in3.steps == (Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL) and in3.marketing
    assert in3.idempotency_key == idempotency_key("birthday", shop.key, "in3@example.com", 2026)
    assert in3.payload["discount"]["code"].startswith("BDAY-")
    context = in3.payload["email"]["context"]
    assert context["birthday"] == "2026-11-25" and context["days_until"] == 3
    assert in3.reason == "birthday 25 November in 3 days; gift for 2026; subscribed"
    assert emails(shop.plan(rule(days_before=0))) == ["today@example.com"]


def test_the_gift_is_once_a_year(store) -> None:
    shop = Shop(store)
    populate(shop)
    first = shop.plan(rule())
    for action in first:
        shop.ledger("birthday", action.idempotency_key, action.email)
    plan = plan_client(store, shop.facts, [rule()], NOW + timedelta(days=1), Limits(), None)
    # The next day: in3 and in7 were served; in8's birthday came into the window; today's is past.
    assert emails(plan.actions) == ["in8@example.com"]
    assert sorted(h.action.email for h in plan.held) == ["in3@example.com", "in7@example.com"]
    assert {h.reason for h in plan.held} == {HoldReason.ALREADY_DONE}
    next_year = shop.plan(rule(), now=NOW + timedelta(days=365))
    assert emails(next_year) == emails(first)
    assert {a.idempotency_key for a in next_year}.isdisjoint(a.idempotency_key for a in first)


def test_29_february_birthdays_are_celebrated_on_the_28th_in_common_years(store) -> None:
    shop = Shop(store)
    shop.put(born(shop, "leap", date(2000, 2, 29)))
    feb = datetime(2027, 2, 26, 12, tzinfo=UTC)
    [action] = shop.plan(rule(days_before=3), now=feb)
    assert action.payload["email"]["context"]["birthday"] == "2027-02-28"
    assert action.idempotency_key == idempotency_key("birthday", shop.key, "leap@example.com", 2027)


def test_active_within_days_leaves_out_customers_without_a_recent_order(store) -> None:
    shop = Shop(store)
    populate(shop)
    shop.put(shop.order("o1", 30, customer_id="in3", email="in3@example.com"))
    assert emails(shop.plan(rule(active_within_days=90))) == ["in3@example.com"]


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError):
        Birthday({})
    with pytest.raises(ValidationError):
        rule(days_before=90)
    assert rule().options.discount.prefix == "BDAY" and rule().options.discount.valid_days == 14


def test_birth_dates_are_synced_from_each_platforms_field(store) -> None:
    shopify = parse_shopify_customer({"id": "gid://shopify/Customer/7", "updatedAt": "2026-01-01T00:00:00Z",
                                      "birthDate": {"value": "1990-05-17"}}, "shop")
    assert shopify.birth_date == date(1990, 5, 17)
    ecwid = {"id": 7, "email": "a@example.com", "updated": "2026-01-01 00:00:00 +0000",
             "extraFields": {"bday": "1988-02-29 00:00:00 +0000"}}
    assert parse_ecwid_customer(ecwid, store_id="1", currency="EUR", birth_date_field="bday").birth_date \
        == date(1988, 2, 29)
    assert parse_ecwid_customer(ecwid, store_id="1", currency="EUR").birth_date is None
    listed = {**ecwid, "extraFields": [{"key": "bday", "value": "not a date"}]}
    assert parse_ecwid_customer(listed, store_id="1", currency="EUR", birth_date_field="bday").birth_date is None
    assert birth_date_of("0001-01-01") is None and birth_date_of(None) is None

    shop = Shop(store)
    shop.put(born(shop, "ann", date(1988, 2, 29)))
    with store.engine.connect() as conn:
        row = conn.execute(tables.customers.select().where(tables.customers.c.id == "ann")).mappings().one()
    assert row["birth_date"] == date(1988, 2, 29) and row["birth_md"] == 229
    store.redact_customer(shop.key, "ann")
    with store.engine.connect() as conn:
        row = conn.execute(tables.customers.select().where(tables.customers.c.id == "ann")).mappings().one()
    assert row["birth_date"] is None and row["birth_md"] is None, "a redacted customer keeps no birth date"
