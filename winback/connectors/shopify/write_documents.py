"""The GraphQL documents of the Shopify connector's lookups and writes (discount codes, customers,
account invites, email consent, tier tags, webhook subscriptions), as constants.

The reads, the fragments they share and :class:`~.documents.Document` are in :mod:`.documents`;
``tests/unit/test_shopify_documents.py`` checks both lists against the Admin API schema.
"""

from __future__ import annotations

from winback.connectors.shopify.documents import _MONEY, CUSTOMER_FIELDS, Document

DISCOUNT_NODE_FIELDS = """
fragment DiscountNodeFields on DiscountCodeNode {
  id
  codeDiscount {
    __typename
    ... on DiscountCodeBasic {
      title startsAt endsAt appliesOncePerCustomer usageLimit
      context {
        __typename
        ... on DiscountCustomers { customers { id } }
      }
      customerGets {
        value {
          __typename
          ... on DiscountPercentage { percentage }
          ... on DiscountAmount { amount { %s } appliesOnEachItem }
        }
      }
    }
  }
}
""" % _MONEY


CUSTOMER_BY_EMAIL = Document(
    "CustomerByEmail",
    """
query CustomerByEmail($email: String!) {
  customerByIdentifier(identifier: {emailAddress: $email}) { ...CustomerFields }
}
"""
    + CUSTOMER_FIELDS,
)

DISCOUNT_BY_CODE = Document(
    "DiscountByCode",
    """
query DiscountByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) { ...DiscountNodeFields }
}
"""
    + DISCOUNT_NODE_FIELDS,
)

DISCOUNT_CODE_BASIC_CREATE = Document(
    "DiscountCodeBasicCreate",
    """
mutation DiscountCodeBasicCreate($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { ...DiscountNodeFields }
    userErrors { field message code extraInfo }
  }
}
"""
    + DISCOUNT_NODE_FIELDS,
)

CUSTOMER_CREATE = Document(
    "CustomerCreate",
    """
mutation CustomerCreate($input: CustomerInput!) {
  customerCreate(input: $input) {
    customer { ...CustomerFields }
    userErrors { field message }
  }
}
"""
    + CUSTOMER_FIELDS,
)

CUSTOMER_SEND_ACCOUNT_INVITE = Document(
    "CustomerSendAccountInvite",
    """
mutation CustomerSendAccountInvite($customerId: ID!) {
  customerSendAccountInviteEmail(customerId: $customerId) {
    customer { id state }
    userErrors { field message code }
  }
}
""",
)

CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE = Document(
    "CustomerEmailMarketingConsentUpdate",
    """
mutation CustomerEmailMarketingConsentUpdate($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { id defaultEmailAddress { emailAddress marketingState marketingUpdatedAt } }
    userErrors { field message code }
  }
}
""",
)

CUSTOMER_TAGS = Document(
    "CustomerTags",
    """
query CustomerTags($id: ID!) {
  customer(id: $id) { id tags }
}
""",
)
"""A customer's tags before a tier is written (read first: write only what differs)."""

TAGS_ADD = Document(
    "TagsAdd",
    """
mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { userErrors { field message } }
}
""",
)

TAGS_REMOVE = Document(
    "TagsRemove",
    """
mutation TagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) { userErrors { field message } }
}
""",
)

WEBHOOK_SUBSCRIPTION_CREATE = Document(
    "WebhookSubscriptionCreate",
    """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
""",
)

WRITE_DOCUMENTS: list[Document] = [
    CUSTOMER_BY_EMAIL,
    DISCOUNT_BY_CODE,
    DISCOUNT_CODE_BASIC_CREATE,
    CUSTOMER_CREATE,
    CUSTOMER_SEND_ACCOUNT_INVITE,
    CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE,
    CUSTOMER_TAGS,
    TAGS_ADD,
    TAGS_REMOVE,
    WEBHOOK_SUBSCRIPTION_CREATE,
]
