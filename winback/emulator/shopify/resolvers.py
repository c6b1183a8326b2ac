"""Query resolvers: root fields, connections (cursor pagination, search, sort) and access scopes.

Resolvers stay trivial: records are precomputed dicts (see :mod:`.state`), so most fields use
graphql-core's default resolver; only connections, lookups and scope-guarded links have code here.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLResolveInfo, GraphQLSchema

from winback.emulator.shopify.collection import Collection, Record
from winback.emulator.shopify.ids import ID_BASE, decode_cursor, encode_cursor, parse_gid
from winback.emulator.shopify.search import compile_search

if TYPE_CHECKING:
    from winback.emulator.shopify.app import ShopifyEmulator

MAX_PAGE = 250
ACCESS_DOCS = "https://shopify.dev/api/usage/access-scopes"

ROOT_SCOPES = {
    "customers": "read_customers",
    "customer": "read_customers",
    "customerByIdentifier": "read_customers",
    "customersCount": "read_customers",
    "orders": "read_orders",
    "order": "read_orders",
    "ordersCount": "read_orders",
    "products": "read_products",
    "product": "read_products",
    "codeDiscountNodeByCode": "read_discounts",
    "discountCodeBasicCreate": "write_discounts",
    "customerCreate": "write_customers",
    "customerSendAccountInviteEmail": "write_customers",
}
LINK_SCOPES = {
    ("Order", "customer"): "read_customers",
    ("Customer", "lastOrder"): "read_orders",
    ("LineItem", "product"): "read_products",
    ("LineItem", "variant"): "read_products",
}


@dataclass
class Context:
    """Per-request context handed to resolvers."""

    emulator: ShopifyEmulator
    bulk_records: list[Record] | None = None
    """In a bulk run: the root records of this chunk (``first`` limits are ignored)."""
    denied: list[str] = field(default_factory=list)


def access_denied(field_name: str, scope: str) -> GraphQLError:
    required = f"`{scope}` access scope."
    return GraphQLError(
        f"Access denied for {field_name} field. Required access: {required}",
        extensions={"code": "ACCESS_DENIED", "documentation": ACCESS_DOCS, "requiredAccess": required},
    )


def _require(info: GraphQLResolveInfo, scope: str) -> None:
    context: Context = info.context
    if not context.emulator.has_scope(scope):
        context.denied.append(scope)
        raise access_denied(info.field_name, scope)


# --- connections ---------------------------------------------------------------------------------


def _page_size(first: int | None, last: int | None) -> None:
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
    for name, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            raise GraphQLError(
                f"The `{name}` argument must be less than or equal to {MAX_PAGE}.",
                extensions={"code": "BAD_REQUEST", "argumentName": name, "maximum": MAX_PAGE},
            )
        if value is not None and value < 0:
            raise GraphQLError(f"The `{name}` argument must be a non-negative integer.", extensions={"code": "BAD_REQUEST"})


def _cursor_for(record: Record, sort_key: str, kind: str) -> str:
    number = ID_BASE[kind] + record["_num"]
    value = Collection.sort_value(record, sort_key)
    return encode_cursor(number, number if isinstance(value, int) else value)


def _position(cursor: str | None, sort_key: str, kind: str) -> tuple[Any, int] | None:
    if cursor is None:
        return None
    decoded = decode_cursor(cursor)
    if decoded is None:
        raise GraphQLError("Invalid cursor for current pagination sort.", extensions={"code": "BAD_REQUEST"})
    number, value = decoded
    num = number - ID_BASE[kind]
    return (num if sort_key not in ("UPDATED_AT", "CREATED_AT", "PROCESSED_AT") else value, num)


def connection_of(records: Iterable[Record], cursor: Callable[[Record], str], *, has_next: bool = False,
                  has_previous: bool = False) -> dict[str, Any]:
    nodes = list(records)
    edges = [{"cursor": cursor(record), "node": record} for record in nodes]
    return {
        "edges": edges,
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def paginate(
    collection: Collection,
    kind: str,
    info: GraphQLResolveInfo,
    args: dict[str, Any],
    visible: Callable[[Record], bool] | None = None,
) -> dict[str, Any]:
    context: Context = info.context
    sort_key = args.get("sortKey") or "ID"
    if context.bulk_records is not None and info.path.prev is None:
        return connection_of(context.bulk_records, lambda r: _cursor_for(r, sort_key, kind))
    first, last = args.get("first"), args.get("last")
    _page_size(first, last)
    predicate = search_predicate(collection, args.get("query"), context, visible)
    reverse = bool(args.get("reverse"))
    backwards = first is None
    if backwards:
        reverse, limit, start = not reverse, last, _position(args.get("before"), sort_key, kind)
    else:
        limit, start = first, _position(args.get("after"), sort_key, kind)
    page: list[Record] = []
    more = False
    for record in collection.scan(sort_key, reverse, start, predicate):
        if len(page) == limit:
            more = True
            break
        page.append(record)
    earlier = start is not None and _any_before(collection, sort_key, reverse, start, predicate)
    if backwards:
        page.reverse()
        more, earlier = earlier, more
    return connection_of(page, lambda r: _cursor_for(r, sort_key, kind), has_next=more, has_previous=earlier)


def _any_before(collection: Collection, sort_key: str, reverse: bool, start: tuple[Any, int],
                predicate: Callable[[Record], bool] | None) -> bool:
    """Whether a matching record lies at or before the cursor position (for ``hasPreviousPage``)."""
    keys, records = collection.index(sort_key)
    if not reverse:
        positions = range(bisect_right(keys, start) - 1, -1, -1)
    else:
        positions = range(bisect_left(keys, start), len(records))
    return any(predicate is None or predicate(records[i]) for i in positions)


def search_predicate(collection: Collection, query: str | None, context: Context,
                     visible: Callable[[Record], bool] | None) -> Callable[[Record], bool] | None:
    searched = compile_search(query, collection.search_fields, collection.text, context.emulator.state.now())
    if visible is None:
        return searched
    if searched is None:
        return visible
    return lambda record: visible(record) and searched(record)


def _count(collection: Collection, info: GraphQLResolveInfo, query: str | None, limit: int | None,
           visible: Callable[[Record], bool] | None = None) -> dict[str, Any]:
    predicate = search_predicate(collection, query, info.context, visible)
    _, records = collection.index("ID")
    total = sum(1 for record in records if predicate is None or predicate(record))
    if limit is not None and total > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": total, "precision": "EXACT"}


# --- resolvers -----------------------------------------------------------------------------------


def _order_visible(context: Context) -> Callable[[Record], bool] | None:
    emulator = context.emulator
    if emulator.has_scope("read_all_orders"):
        return None
    horizon = emulator.world.now - timedelta(days=60)
    return lambda record: record["_created"] >= horizon


def build_query_resolvers(emulator: ShopifyEmulator) -> dict[str, Callable[..., Any]]:
    state = emulator.state

    def shop(_root: Any, info: GraphQLResolveInfo) -> Record:
        return emulator.shop_record()

    def current_app_installation(_root: Any, info: GraphQLResolveInfo) -> Record:
        return {
            "id": "gid://shopify/AppInstallation/1000000001",
            "accessScopes": [{"handle": scope, "description": scope.replace("_", " ")} for scope in emulator.scopes],
        }

    def customers(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        _require(info, "read_customers")
        return paginate(state.customers, "Customer", info, args)

    def customer(_root: Any, info: GraphQLResolveInfo, id: str) -> Record | None:  # noqa: A002
        _require(info, "read_customers")
        key = parse_gid(id, "Customer")
        return state.customers.by_num.get(key) if key is not None else None

    def customer_by_identifier(_root: Any, info: GraphQLResolveInfo, identifier: dict[str, Any]) -> Record | None:
        _require(info, "read_customers")
        if identifier.get("emailAddress"):
            return state.customers_by_email.get(identifier["emailAddress"].strip().lower())
        if identifier.get("id"):
            key = parse_gid(identifier["id"], "Customer")
            return state.customers.by_num.get(key) if key is not None else None
        if identifier.get("phoneNumber"):
            phone = identifier["phoneNumber"]
            return next((c for c in state.customers.by_num.values() if c["phone"] == phone), None)
        raise GraphQLError("One of id, emailAddress, phoneNumber or customId must be provided.")

    def customers_count(_root: Any, info: GraphQLResolveInfo, query: str | None = None,
                        limit: int | None = 10000) -> dict[str, Any]:
        _require(info, "read_customers")
        return _count(state.customers, info, query, limit)

    def orders(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        _require(info, "read_orders")
        return paginate(state.orders, "Order", info, args, _order_visible(info.context))

    def events(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        return paginate(state.events, "BasicEvent", info, args)

    def order(_root: Any, info: GraphQLResolveInfo, id: str) -> Record | None:  # noqa: A002
        _require(info, "read_orders")
        key = parse_gid(id, "Order")
        record = state.orders.by_num.get(key) if key is not None else None
        visible = _order_visible(info.context)
        return record if record is not None and (visible is None or visible(record)) else None

    def orders_count(_root: Any, info: GraphQLResolveInfo, query: str | None = None,
                     limit: int | None = 10000, savedSearchId: str | None = None) -> dict[str, Any]:  # noqa: N803
        _require(info, "read_orders")
        return _count(state.orders, info, query, limit, _order_visible(info.context))

    def products(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        _require(info, "read_products")
        return paginate(state.products, "Product", info, args)

    def product(_root: Any, info: GraphQLResolveInfo, id: str) -> Record | None:  # noqa: A002
        _require(info, "read_products")
        key = parse_gid(id, "Product")
        return state.products.by_num.get(key) if key is not None else None

    def code_discount_node_by_code(_root: Any, info: GraphQLResolveInfo, code: str) -> Record | None:
        _require(info, "read_discounts")
        return state.discounts_by_code.get(code.strip().lower())

    def bulk_operation(_root: Any, info: GraphQLResolveInfo, id: str) -> Record | None:  # noqa: A002
        return emulator.bulk.poll(id)

    return {
        "shop": shop,
        "currentAppInstallation": current_app_installation,
        "customers": customers,
        "customer": customer,
        "customerByIdentifier": customer_by_identifier,
        "customersCount": customers_count,
        "events": events,
        "orders": orders,
        "order": order,
        "ordersCount": orders_count,
        "products": products,
        "product": product,
        "codeDiscountNodeByCode": code_discount_node_by_code,
        "bulkOperation": bulk_operation,
    }


def _line_items(order: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    lines: list[Record] = order["_lines"]
    cursor = lambda r: encode_cursor(ID_BASE["LineItem"] + r["_num"], ID_BASE["LineItem"] + r["_num"])  # noqa: E731
    if info.context.bulk_records is not None:
        return connection_of(lines, cursor)
    first, last = args.get("first"), args.get("last")
    _page_size(first, last)
    ordered = list(reversed(lines)) if args.get("reverse") else lines
    position = 0
    marker = args.get("after") if first is not None else args.get("before")
    if first is None:
        ordered = list(reversed(ordered))
    if marker is not None:
        decoded = decode_cursor(marker)
        if decoded is None:
            raise GraphQLError("Invalid cursor for current pagination sort.", extensions={"code": "BAD_REQUEST"})
        ids = [ID_BASE["LineItem"] + r["_num"] for r in ordered]
        position = ids.index(decoded[0]) + 1 if decoded[0] in ids else len(ordered)
    limit = first if first is not None else last
    page = ordered[position : position + limit]
    more, earlier = position + limit < len(ordered), position > 0
    if first is None:
        page.reverse()
        more, earlier = earlier, more
    return connection_of(page, cursor, has_next=more, has_previous=earlier)


def _codes(discount: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    codes: list[Record] = discount["_codes"]
    limit = args.get("first") or args.get("last") or len(codes)
    return connection_of(codes[:limit], lambda r: encode_cursor(r["_num"], r["_num"]), has_next=len(codes) > limit)


def _guarded(type_name: str, field_name: str, scope: str) -> Callable[..., Any]:
    def resolve(parent: Record, info: GraphQLResolveInfo) -> Any:
        value = parent.get(field_name)
        if value is None:
            return None
        _require(info, scope)
        if type_name == "Customer" and field_name == "lastOrder":
            visible = _order_visible(info.context)
            if visible is not None and not visible(value):
                return None
        return value

    return resolve


def attach_resolvers(schema: GraphQLSchema, emulator: ShopifyEmulator, mutations: dict[str, Callable[..., Any]]) -> None:
    """Set field resolvers on a schema instance owned by this emulator."""
    query = schema.query_type
    assert query is not None
    for name, resolver in build_query_resolvers(emulator).items():
        query.fields[name].resolve = resolver
    mutation = schema.mutation_type
    assert mutation is not None
    for name, resolver in mutations.items():
        mutation.fields[name].resolve = resolver
    schema.type_map["Order"].fields["lineItems"].resolve = _line_items  # type: ignore[union-attr]
    schema.type_map["DiscountCodeBasic"].fields["codes"].resolve = _codes  # type: ignore[union-attr]
    for (type_name, field_name), scope in LINK_SCOPES.items():
        schema.type_map[type_name].fields[field_name].resolve = _guarded(type_name, field_name, scope)  # type: ignore[union-attr]
