"""Shopify writes that create what a rule asked for, a discount code or a customer, at most once.

Both go through :func:`~winback.connectors.http.create_at_most_once`: an ambiguous failure (a 5xx
or a dropped connection during the mutation) leads to a lookup through ``find``, never to a blind
re-send, and a "taken" answer after such a failure is checked against what is there, since our
own earlier attempt may have taken the code or the address. ``find`` is the connector's own
lookup (:meth:`.ShopifyConnector.find_discount_code`, ``find_customer_by_email``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from winback import errors
from winback.connectors.http import AmbiguousWriteError, create_at_most_once
from winback.connectors.shopify import write_documents as write_docs
from winback.connectors.shopify import inputs, parse
from winback.connectors.shopify.graphql import GraphQLClient
from winback.model import Customer, DiscountCode, DiscountCodeSpec, NewCustomer

T = TypeVar("T")
Find = Callable[[str], Awaitable[T | None]]


def customer_from(node: Mapping[str, Any], *, store_id: str, store: str) -> Customer:
    """A customer node a write or lookup answered; a shape we cannot read is the platform's error."""
    try:
        return parse.parse_customer(node, store_id)
    except parse.TRANSLATION_ERRORS as exc:
        raise errors.UnexpectedResponseError(
            f"{store} returned customer {node.get('id')} in a shape we cannot read: {exc}",
            store=store,
        ) from None


async def create_discount_code(
    gql: GraphQLClient, spec: DiscountCodeSpec, *, store_id: str, store: str, find: Find[DiscountCode]
) -> DiscountCode:
    variables = {"input": inputs.discount_input(spec, store)}
    ambiguous = False

    async def create() -> DiscountCode:
        nonlocal ambiguous
        try:
            data = await gql.execute(write_docs.DISCOUNT_CODE_BASIC_CREATE, variables)
        except AmbiguousWriteError:
            ambiguous = True
            raise
        payload = data.get("discountCodeBasicCreate") or {}
        user_errors = payload.get("userErrors") or []
        if user_errors:
            first = user_errors[0]
            code, field = first.get("code"), inputs.user_error_field(first)
            message = f"{store} refused discount code {spec.code!r}: {first.get('message')}"
            if code == "TAKEN":
                if ambiguous:
                    # Our earlier, ambiguous attempt may be the one that took the code.
                    found = await find(spec.code)
                    if found is not None and found.matches(spec):
                        return found
                raise errors.DiscountCodeTakenError(message, store=store, code=code, field=field)
            raise errors.PlatformRejectedError(
                message + (f" (field {field})" if field else ""), store=store, code=code, field=field
            )
        node = payload.get("codeDiscountNode")
        if not isinstance(node, Mapping):
            raise errors.UnexpectedResponseError(
                f"{store} created discount code {spec.code!r} but returned no node",
                store=store,
            )
        return parse.parse_discount_node(node, store_id, spec.code)

    async def lookup() -> DiscountCode | None:
        found = await find(spec.code)
        return found if found is not None and found.matches(spec) else None

    return await create_at_most_once(create=create, lookup=lookup)


async def create_customer(
    gql: GraphQLClient, spec: NewCustomer, *, store_id: str, store: str, find: Find[Customer]
) -> Customer:
    customer_input = inputs.customer_input(spec, datetime.now(timezone.utc))
    ambiguous = False

    async def create() -> Customer:
        nonlocal ambiguous
        try:
            data = await gql.execute(write_docs.CUSTOMER_CREATE, {"input": customer_input})
        except AmbiguousWriteError:
            ambiguous = True
            raise
        payload = data.get("customerCreate") or {}
        user_errors = payload.get("userErrors") or []
        if user_errors:
            first = user_errors[0]
            field, text = inputs.user_error_field(first), str(first.get("message"))
            message = f"{store} refused to create customer {spec.email}: {text}"
            if "taken" in text.lower():
                if ambiguous:
                    found = await find(spec.email)
                    if found is not None:
                        return found
                raise errors.CustomerExistsError(message, store=store, code="TAKEN", field=field)
            raise errors.PlatformRejectedError(
                message + (f" (field {field})" if field else ""), store=store, field=field
            )
        node = payload.get("customer")
        if not isinstance(node, Mapping):
            raise errors.UnexpectedResponseError(
                f"{store} created customer {spec.email} but returned none", store=store
            )
        return customer_from(node, store_id=store_id, store=store)

    return await create_at_most_once(create=create, lookup=lambda: find(spec.email))
