"""Shared fixtures. Several engineers add fixtures here: append, keep sections self-contained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


# --- the real Shopify Admin schema (used by the Shopify emulator's subset test) -------------------


@pytest.fixture(scope="session")
def real_shopify_schema_path() -> Path:
    """Shopify's real Admin GraphQL SDL, kept outside the repo in ``../shared/shopify/``."""
    path = Path(__file__).parents[1].parent / "shared/shopify/admin-2026-07.graphql"
    if not path.is_file():
        message = "../shared/shopify/admin-2026-07.graphql is absent: cannot check against Shopify's real schema"
        if os.environ.get("WINBACK_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path
