"""The emulator's SDL must be a true subset of Shopify's real 2026-07 Admin schema."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema

from winback.emulator.shopify.schema import SCHEMA_PATH, load_schema
from winback.emulator.shopify.subset import subset_problems


@lru_cache(maxsize=1)
def _real_schema(path: str) -> GraphQLSchema:
    return build_schema(Path(path).read_text(encoding="utf-8"), assume_valid_sdl=True)


@pytest.fixture(scope="session")
def real_schema(real_shopify_schema_path: Path) -> GraphQLSchema:
    return _real_schema(str(real_shopify_schema_path))


def test_emulator_schema_is_a_true_subset_of_the_real_one(real_schema: GraphQLSchema) -> None:
    assert subset_problems(load_schema(), real_schema) == []


def test_emulator_schema_covers_what_the_connector_needs() -> None:
    ours = load_schema()
    query, mutation = ours.query_type, ours.mutation_type
    assert query is not None and mutation is not None
    for field in ("shop", "currentAppInstallation", "customers", "customer", "customerByIdentifier",
                  "customersCount", "orders", "order", "ordersCount", "products", "codeDiscountNodeByCode",
                  "bulkOperation"):
        assert field in query.fields, field
    for field in ("bulkOperationRunQuery", "discountCodeBasicCreate", "customerCreate",
                  "customerSendAccountInviteEmail"):
        assert field in mutation.fields, field
    assert SCHEMA_PATH.name == "schema.graphql"


WRONG_SDL = """
schema { query: QueryRoot }
scalar DateTime
enum CustomerState { DISABLED ENABLED GHOST }
type QueryRoot {
  customer(id: ID): Customer
  customers(first: Int, pageSize: Int): CustomerConnection
  shop: Shop!
}
input CustomerIdentifierInput { emailAddress: String! }
type Customer { id: ID! state: CustomerState! createdAt: DateTime numberOfOrders: Int! }
type CustomerConnection { nodes: [Customer]! }
interface Shop { id: ID! }
union DiscountCode = DiscountCodeBasic | Customer
type DiscountCodeBasic { title: String! }
type Invented { id: ID! }
"""


def test_the_checker_catches_a_wrong_schema(real_schema: GraphQLSchema) -> None:
    problems = "\n".join(subset_problems(build_schema(WRONG_SDL), real_schema))
    expected = [
        "argument QueryRoot.customer(id): ID here, ID! in the real schema",
        "field QueryRoot.customers: CustomerConnection here, CustomerConnection! in the real schema",
        "argument QueryRoot.customers(pageSize) does not exist",
        "input field CustomerIdentifierInput.emailAddress: String! here, String in the real schema",
        "field Customer.createdAt: DateTime here, DateTime! in the real schema",
        "field Customer.numberOfOrders: Int! here, UnsignedInt64! in the real schema",
        "field CustomerConnection.nodes: [Customer]! here, [Customer!]! in the real schema",
        "enum CustomerState has values the real one lacks: ['GHOST']",
        "type Shop is Interface here but Object in the real schema",
        "union DiscountCode has members the real one lacks: ['Customer']",
        "type Invented does not exist in the real schema",
    ]
    for line in expected:
        assert line in problems
