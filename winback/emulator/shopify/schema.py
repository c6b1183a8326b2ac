"""The emulator's SDL, built once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from graphql import GraphQLSchema, build_schema

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")


@lru_cache(maxsize=1)
def load_schema() -> GraphQLSchema:
    """The executable schema (a subset of Shopify's 2026-07 Admin API); resolvers are attached by the app."""
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
