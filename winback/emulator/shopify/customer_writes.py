"""Customer tags and metafields on the Shopify emulator: ``tagsAdd``, ``tagsRemove`` and
``Customer.metafield``.

As the Admin API documents them: ``tagsAdd(id:, tags:)`` adds the tags a customer lacks and
``tagsRemove`` removes those named, both comparing case-insensitively (Shopify's tags are) and
keeping the customer's other tags; each returns ``{node, userErrors}``; both need write_customers
(the emulator knows only customers as taggable resources; another id is a user error).
``metafield(namespace:, key:)`` returns the customer's metafield or null; its ``value`` is always a
string (a ``date`` metafield reads ``1990-05-17``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo, GraphQLSchema

from winback.emulator.shopify.ids import iso, parse_gid
from winback.emulator.shopify.resolvers import _require

if TYPE_CHECKING:
    from winback.emulator.shopify.app import ShopifyEmulator

Record = dict[str, Any]
APP_NAMESPACE = "$app"


def _error(field: list[str], message: str) -> Record:
    return {"field": field, "message": message}


def build_tag_resolvers(emulator: ShopifyEmulator) -> dict[str, Callable[..., Any]]:
    state = emulator.state

    def change(info: GraphQLResolveInfo, id: str, tags: list[str], adding: bool) -> Record:  # noqa: A002
        _require(info, "write_customers")
        key = parse_gid(id, "Customer")
        customer = state.customers.by_num.get(key) if key is not None else None
        if customer is None:
            return {"node": None, "userErrors": [_error(["id"], "Invalid resource")]}
        wanted = [t.strip() for t in tags if t.strip()]
        with state.lock:
            present = list(customer["tags"])
            folded = {t.casefold() for t in present}
            if adding:
                added = [t for t in dict.fromkeys(wanted) if t.casefold() not in folded]
                customer["tags"] = sorted(present + added, key=str.casefold)
                changed = added
            else:
                gone = {t.casefold() for t in wanted}
                customer["tags"] = [t for t in present if t.casefold() not in gone]
                changed = [t for t in present if t.casefold() in gone]
            if changed:
                state.touch(customer, state.customers)
                state.tag_writes.append({"customer_id": customer["id"], "email": customer["email"],
                                         "added" if adding else "removed": changed})
        return {"node": customer, "userErrors": []}

    def tags_add(_root: Any, info: GraphQLResolveInfo, id: str, tags: list[str]) -> Record:  # noqa: A002
        return change(info, id, tags, True)

    def tags_remove(_root: Any, info: GraphQLResolveInfo, id: str, tags: list[str]) -> Record:  # noqa: A002
        return change(info, id, tags, False)

    return {"tagsAdd": tags_add, "tagsRemove": tags_remove}


def _metafield(parent: Record, info: GraphQLResolveInfo, key: str, namespace: str | None = None) -> Record | None:
    return (parent.get("_metafields") or {}).get((namespace or APP_NAMESPACE, key))


def attach(schema: GraphQLSchema) -> None:
    schema.type_map["Customer"].fields["metafield"].resolve = _metafield  # type: ignore[union-attr]


def set_metafield(customer: Record, namespace: str, key: str, value: str, type_: str = "date") -> None:
    """Give ``customer`` a metafield (the merchant's or an app's write; not an API of winback's)."""
    fields = customer.setdefault("_metafields", {})
    number = len(fields) + 1 + int(customer["_num"]) * 100
    fields[(namespace, key)] = {"id": f"gid://shopify/Metafield/{20_000_000_000 + number}", "namespace": namespace, "key": key,
                                "type": type_, "value": value, "createdAt": customer["createdAt"],
                                "updatedAt": customer["updatedAt"]}


def seed_birthdays(emulator: ShopifyEmulator, metafield: str, today: date) -> int:
    """Every fifth customer gets a birth date in ``metafield`` (``namespace.key``); returns how many."""
    from winback.emulator.birthdays import seeded_birth_dates

    namespace, key = metafield.split(".", 1)
    customers = emulator.state.customers.by_num
    dates = seeded_birth_dates(customers.keys(), today)
    with emulator.state.lock:
        for number, born in dates.items():
            set_metafield(customers[number], namespace, key, born.isoformat())
    return len(dates)


__all__ = ["attach", "build_tag_resolvers", "iso", "seed_birthdays", "set_metafield"]
