"""One Admin API GraphQL request answered as Shopify answers it: parse and validation errors shaped
like Shopify's, MAX_COST_EXCEEDED, THROTTLED from the leaky bucket, then execution with
``extensions.cost`` on every answer. The HTTP checks before it (token, shop state, body) stay in
:mod:`winback.emulator.shopify.app`."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from graphql import (
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)

from winback.emulator.server import Response
from winback.emulator.shopify.cost import MAX_QUERY_COST, CostCalculator
from winback.emulator.shopify.ids import iso
from winback.emulator.shopify.resolvers import Context

if TYPE_CHECKING:
    from winback.emulator.shopify.app import ShopifyEmulator

RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"


def answer_graphql(
    emulator: ShopifyEmulator, query: str, variables: dict[str, Any], operation_name: str | None
) -> Response:
    """The Admin API's answer to one authorised GraphQL request, checked in Shopify's order: parse and
    validation errors, requested cost over the single-query limit, the bucket, then execution with
    ``extensions.cost``."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return Response.json({"errors": [_parse_error(error)]})
    errors = validate(emulator.schema, document)
    if errors:
        return Response.json({"errors": [_validation_error(e) for e in errors]})
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next((o for o in operations if o.name and o.name.value == operation_name), None) if operation_name else None
    if operation is None:
        if len(operations) != 1:
            return Response.json({"errors": [{"message": "An operation name is required",
                                              "extensions": {"code": "BAD_REQUEST"}}]})
        operation = operations[0]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    calculator = CostCalculator(emulator.schema, operation, fragments, variables)
    requested = calculator.requested()
    if requested > MAX_QUERY_COST:
        return Response.json({
            "errors": [{
                "message": (f"Query cost is {requested}, which exceeds the single query max cost limit "
                            f"({MAX_QUERY_COST}).\n\nSee {RATE_LIMIT_DOCS} for more information on how the cost "
                            "of a query is calculated.\n\nTo query larger amounts of data with fewer limits, "
                            "bulk operations should be used instead.\nSee "
                            "https://shopify.dev/api/usage/bulk-operations/queries for usage details.\n"),
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST,
                               "documentation": RATE_LIMIT_DOCS},
            }],
            "extensions": {"cost": _cost(emulator, requested, None)},
        })
    if not emulator.bucket.try_take(requested):
        return Response.json(
            {
                "errors": [{"message": "Throttled",
                            "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}],
                "extensions": {"cost": _cost(emulator, requested, None)},
            },
            status=emulator.throttled_status,
        )
    context = Context(emulator=emulator)
    result: ExecutionResult = execute(
        emulator.schema, document, variable_values=variables, operation_name=operation_name, context_value=context
    )
    actual = calculator.actual(result.data)
    emulator.bucket.refund(requested - actual)
    payload: dict[str, Any] = {}
    if result.errors:
        payload["errors"] = [_execution_error(e) for e in result.errors]
    payload["data"] = result.data
    payload["extensions"] = {"cost": _cost(emulator, requested, actual)}
    return Response(status=200, body=json.dumps(payload, ensure_ascii=False, default=_json_default).encode())


def _cost(emulator: ShopifyEmulator, requested: int, actual: int | None) -> dict[str, Any]:
    return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": emulator.bucket.status()}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return iso(value) if hasattr(value, "astimezone") else str(value)


def _locations(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or ()]


def _parse_error(error: GraphQLError) -> dict[str, Any]:
    return {"message": error.message.removeprefix("Syntax Error: "), "locations": _locations(error),
            "extensions": {"code": "PARSE_ERROR"}}


def _validation_error(error: GraphQLError) -> dict[str, Any]:
    return {"message": error.message, "locations": _locations(error),
            "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}


def _execution_error(error: GraphQLError) -> dict[str, Any]:
    shaped: dict[str, Any] = {"message": error.message}
    if error.locations:
        shaped["locations"] = _locations(error)
    if error.path:
        shaped["path"] = list(error.path)
    if error.extensions:
        shaped["extensions"] = dict(error.extensions)
    elif error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        shaped["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    return shaped
