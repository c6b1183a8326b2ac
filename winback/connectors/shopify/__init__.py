"""Shopify connector (Admin GraphQL API). Registered as the ``shopify`` entry point."""

from winback.connectors.shopify.connector import ShopifyConnector
from winback.connectors.shopify.settings import ShopifySettings

__all__ = ["ShopifyConnector", "ShopifySettings"]
