"""Shopify customer nodes → :class:`~winback.model.Customer`, decoded by msgspec and built without validation.

The same fast path as :mod:`.decode_orders` (read that module's docstring first), for a
``CustomersPage`` answer: what it accepts, :func:`.parse.parse_customer` translates into an equal
record; anything else raises :class:`~.decode_orders.Refused` for the whole page. The keys
``parse_customer`` falls back to but ``CustomerFields`` does not select (``email``, ``phone``,
``emailMarketingConsent``) must be absent or null.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from winback.connectors.shopify import parse
from winback.connectors.shopify.decode_orders import Refused, address_of, decoded, money_of, page_info_of, utc_time
from winback.connectors.shopify.order_structs import AddressNode, MoneyNode, PageInfo
from winback.model import AccountState, ConsentState, Customer, EmailConsent, birth_date_of

_new_customer = Customer.from_checked
_new_consent = EmailConsent.from_checked
_NO_CONSENT = EmailConsent()
_GUEST = AccountState.GUEST
_UNKNOWN = ConsentState.UNKNOWN
_ACCOUNT = parse.ACCOUNT
_CONSENT = parse.CONSENT


class EmailNode(Struct, gc=False):
    emailAddress: str | None = None
    marketingState: str | None = None
    marketingUpdatedAt: Any = None
    """Read only where there is a marketing state (as :func:`.parse.consent`)."""


class PhoneNode(Struct, gc=False):
    phoneNumber: str | None = None


class ValueNode(Struct, gc=False):
    value: Any = None


class CustomerNode(Struct, gc=False):
    id: str
    updatedAt: str
    firstName: str | None = None
    lastName: str | None = None
    createdAt: str | None = None
    state: str | None = None
    numberOfOrders: int | str | None = None
    tags: list[str] | None = None
    amountSpent: MoneyNode | None = None
    defaultEmailAddress: EmailNode | None = None
    defaultPhoneNumber: PhoneNode | None = None
    defaultAddress: AddressNode | None = None
    birthDate: ValueNode | None = None
    email: None = None
    phone: None = None
    emailMarketingConsent: None = None


class _Connection(Struct, gc=False):
    nodes: list[CustomerNode]
    pageInfo: PageInfo | None = None


class _Data(Struct, gc=False):
    customers: _Connection


class _Answer(Struct, gc=False):
    data: _Data
    errors: None = None
    extensions: Any = None


_answer = msgspec.json.Decoder(_Answer)


def customers_answer(data: bytes, store_id: str) -> tuple[list[Customer], Any, Any]:
    """A ``CustomersPage`` answer → its customers, its ``pageInfo`` and its ``extensions``."""
    answer = decoded(_answer, data)
    connection = answer.data.customers
    return [_customer(node, store_id) for node in connection.nodes], page_info_of(connection.pageInfo), answer.extensions


def _customer(node: CustomerNode, store_id: str) -> Customer:
    email_node, phone_node, address = node.defaultEmailAddress, node.defaultPhoneNumber, node.defaultAddress
    state, orders, tags, birth, created = node.state, node.numberOfOrders, node.tags, node.birthDate, node.createdAt
    if state is None:
        account = _GUEST
    elif (account := _ACCOUNT.get(state)) is None:
        raise Refused(f"an account state the ordinary path quarantines: {state!r}")
    if type(orders) is str:
        try:
            orders = int(orders)
        except ValueError:
            raise Refused(f"not a count of orders: {orders!r}") from None
    default_address = address_of(address)
    phone = None if phone_node is None else phone_node.phoneNumber
    if not phone:
        phone = None if default_address is None else default_address.phone
    return _new_customer(
        {
            "platform": parse.PLATFORM,
            "store_id": store_id,
            "id": node.id,
            "email": None if email_node is None else email_node.emailAddress or None,
            "first_name": node.firstName,
            "last_name": node.lastName,
            "phone": phone,
            "created_at": None if created is None else utc_time(created),
            "updated_at": utc_time(node.updatedAt),
            "account": account,
            "consent": _consent(email_node),
            "orders_count": orders,
            "amount_spent": money_of(node.amountSpent),
            "tags": tuple(tags) if tags else (),
            "default_address": default_address,
            "birth_date": None if birth is None else birth_date_of(birth.value),
        }
    )


def _consent(node: EmailNode | None) -> EmailConsent:
    """As :func:`.parse.consent` where the legacy key is absent: no marketing state, no consent."""
    if node is None or not node.marketingState:
        return _NO_CONSENT
    updated = node.marketingUpdatedAt
    if updated is not None and type(updated) is not str:
        raise Refused(f"not a time: {updated!r}")
    return _new_consent(
        {
            "state": _CONSENT.get(node.marketingState, _UNKNOWN),
            "updated_at": None if updated is None else utc_time(updated),
        }
    )
