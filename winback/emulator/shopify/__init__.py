"""A local Shopify Admin GraphQL API (2026-07 subset) over real HTTP, rendered from a seeded world.

>>> server, shop = start_shopify_emulator(world, scopes=ALL_SCOPES, bucket_size=2000)
>>> httpx.post(graphql_url(server), headers={"X-Shopify-Access-Token": shop.access_token}, json={...})
"""

from winback.emulator.shopify.app import ALL_SCOPES, ShopifyEmulator, graphql_url, start_shopify_emulator
from winback.emulator.shopify.schema import SCHEMA_PATH, load_schema

__all__ = ["ALL_SCOPES", "SCHEMA_PATH", "ShopifyEmulator", "graphql_url", "load_schema", "start_shopify_emulator"]
