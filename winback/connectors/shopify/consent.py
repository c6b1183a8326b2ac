"""Shopify writes of ``winback serve``: a customer's email-marketing consent and webhook subscriptions.

Consent goes through ``customerEmailMarketingConsentUpdate`` (the ``customerUpdate`` input may not
carry consent). ``UNSUBSCRIBED`` is the state for an opt-out: ``NOT_SUBSCRIBED`` cannot be set.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from winback import errors
from winback.connectors.base import ConsentWrite
from winback.connectors.shopify import write_documents as write_docs
from winback.model import ConsentState

if TYPE_CHECKING:
    from winback.connectors.shopify.connector import ShopifyConnector

API_TOPICS = ("ORDERS_CREATE", "ORDERS_UPDATED", "CUSTOMERS_UPDATE", "APP_UNINSTALLED", "CUSTOMERS_DELETE",
              "ORDERS_DELETE")
"""Topics ``webhookSubscriptionCreate`` accepts that winback handles. The privacy topics
(customers/data_request, customers/redact, shop/redact) are not in ``WebhookSubscriptionTopic``:
they are set in the app's configuration (``shopify.app.toml`` or the Partner dashboard)."""


async def set_email_marketing(connector: ShopifyConnector, email: str, subscribed: bool) -> ConsentWrite:
    customer = await connector.find_customer_by_email(email)
    if customer is None:
        return ConsentWrite.NO_CUSTOMER
    wanted = ConsentState.SUBSCRIBED if subscribed else ConsentState.UNSUBSCRIBED
    if customer.consent.state == wanted:
        return ConsentWrite.ALREADY
    consent: dict[str, Any] = {
        "marketingState": "SUBSCRIBED" if subscribed else "UNSUBSCRIBED",
        "consentUpdatedAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    if subscribed:
        consent["marketingOptInLevel"] = "SINGLE_OPT_IN"
    variables = {"input": {"customerId": f"gid://shopify/Customer/{customer.id}"
                           if not str(customer.id).startswith("gid://") else customer.id,
                           "emailMarketingConsent": consent}}
    data = await connector.gql.execute(write_docs.CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE, variables)
    payload = data.get("customerEmailMarketingConsentUpdate") or {}
    _raise_user_errors(connector, payload, f"change the marketing consent of customer {customer.id}")
    return ConsentWrite.WRITTEN


async def subscribe_webhook(connector: ShopifyConnector, topic: str, uri: str) -> str:
    """Subscribe ``topic`` to ``uri``; the subscription's id, or ``"exists"`` when it is there already."""
    data = await connector.gql.execute(write_docs.WEBHOOK_SUBSCRIPTION_CREATE, {"topic": topic, "uri": uri})
    payload = data.get("webhookSubscriptionCreate") or {}
    for error in payload.get("userErrors") or []:
        if "taken" in str(error.get("message", "")).lower():
            return "exists"
    _raise_user_errors(connector, payload, f"subscribe {topic}")
    node = payload.get("webhookSubscription")
    return str(node.get("id")) if isinstance(node, Mapping) else "?"


def _raise_user_errors(connector: ShopifyConnector, payload: Mapping[str, Any], what: str) -> None:
    user_errors = payload.get("userErrors") or []
    if user_errors:
        first = user_errors[0]
        raise errors.PlatformRejectedError(
            f"{connector.store_label} refused to {what}: {first.get('message')}",
            store=connector.store_label, code=first.get("code"),
        )
