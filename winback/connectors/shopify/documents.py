"""The GraphQL documents of the Shopify connector's reads, and the fragments and :class:`Document`
its writes share, as constants.

All of them are checked against the real Admin API schema (``admin-2026-07.graphql``) and the
emulator's subset of it by ``tests/unit/test_shopify_documents.py``, so a field renamed by Shopify
fails a unit test rather than a merchant's sync. We select only what the model needs: every object
costs a point per record (see :mod:`.throttle`). :func:`bulk_orders_query` builds the inner query of the bulk export; it
is a string argument of a mutation, so the same test validates it on its own. The lookups and
writes are in :mod:`.write_documents`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Document:
    """A named GraphQL operation. ``name`` keys the cost history of the throttle."""

    name: str
    text: str

    @property
    def is_mutation(self) -> bool:
        return self.text.lstrip().startswith("mutation")


# --- fragments ---------------------------------------------------------------------------------

_MONEY = "amount currencyCode"

_ADDRESS_BODY = "firstName lastName company address1 address2 city province provinceCode country countryCodeV2 zip phone"

ADDRESS_FIELDS = "\nfragment AddressFields on MailingAddress { %s }\n" % _ADDRESS_BODY

CUSTOMER_FIELDS = (
    """
fragment CustomerFields on Customer {
  id firstName lastName createdAt updatedAt state numberOfOrders tags
  amountSpent { %s }
  defaultEmailAddress { emailAddress marketingState marketingUpdatedAt }
  defaultPhoneNumber { phoneNumber }
  defaultAddress { ...AddressFields }
}
"""
    % _MONEY
    + ADDRESS_FIELDS
)

_LINE_ITEM_BODY = """
  id title quantity currentQuantity sku
  variant { id }
  product { id }
  originalUnitPriceSet { shopMoney { %s } }
""" % _MONEY

LINE_ITEM_FIELDS = "\nfragment LineItemFields on LineItem {%s}\n" % _LINE_ITEM_BODY

_ORDER_BODY = """
  id name email createdAt updatedAt processedAt cancelledAt test displayFinancialStatus
  currencyCode customerAcceptsMarketing discountCodes displayFulfillmentStatus
  fulfillments { createdAt deliveredAt status }
  customer { id }
  totalPriceSet { shopMoney { %(m)s } }
  currentTotalPriceSet { shopMoney { %(m)s } }
  totalRefundedSet { shopMoney { %(m)s } }
  billingAddress { %(a)s }
""" % {"m": _MONEY, "a": _ADDRESS_BODY}
# ``fulfillments`` is a plain list (not a connection, no ``first`` needed): every shipment, so
# ``delivered_at`` sees them all; lists are allowed in bulk queries.

ORDER_FIELDS = "\nfragment OrderFields on Order {%s}\n" % _ORDER_BODY

PRODUCT_FIELDS = """
fragment ProductFields on Product {
  id title handle status onlineStoreUrl createdAt updatedAt
  featuredMedia { preview { image { url } } }
  priceRangeV2 { minVariantPrice { %s } }
}
""" % _MONEY

_PAGE_INFO = "pageInfo { hasNextPage endCursor }"

# --- description -------------------------------------------------------------------------------

SHOP_INFO = Document(
    "ShopInfo",
    """
query ShopInfo {
  shop {
    name currencyCode url myshopifyDomain email ianaTimezone
    customerAccountsV2 { customerAccountsVersion }
    shopAddress { formatted(withCompany: true) }
  }
  currentAppInstallation { accessScopes { handle } }
}
""",
)

ACCESS_SCOPES = Document(
    "AccessScopes",
    """
query AccessScopes {
  currentAppInstallation { accessScopes { handle } }
}
""",
)

# --- reads -------------------------------------------------------------------------------------

CUSTOMERS_PAGE = Document(
    "CustomersPage",
    """
query CustomersPage(
  $first: Int!, $after: String, $query: String,
  $withBirthDate: Boolean = false, $birthDateNamespace: String, $birthDateKey: String = "birth_date"
) {
  customers(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    nodes {
      ...CustomerFields
      birthDate: metafield(namespace: $birthDateNamespace, key: $birthDateKey) @include(if: $withBirthDate) { value }
    }
    %s
  }
}
"""
    % _PAGE_INFO
    + CUSTOMER_FIELDS,
)

ORDERS_PAGE = Document(
    "OrdersPage",
    """
query OrdersPage($first: Int!, $after: String, $query: String, $lineItems: Int!) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    nodes {
      ...OrderFields
      lineItems(first: $lineItems) {
        nodes { ...LineItemFields }
        %s
      }
    }
    %s
  }
}
"""
    % (_PAGE_INFO, _PAGE_INFO)
    + ORDER_FIELDS
    + LINE_ITEM_FIELDS,
)

ORDER_LINE_ITEMS = Document(
    "OrderLineItems",
    """
query OrderLineItems($id: ID!, $first: Int!, $after: String) {
  order(id: $id) {
    id
    lineItems(first: $first, after: $after) {
      nodes { ...LineItemFields }
      %s
    }
  }
}
"""
    % _PAGE_INFO
    + LINE_ITEM_FIELDS,
)

ORDERS_COUNT = Document(
    "OrdersCount",
    """
query OrdersCount($query: String, $limit: Int) {
  ordersCount(query: $query, limit: $limit) { count precision }
}
""",
)

PRODUCTS_PAGE = Document(
    "ProductsPage",
    """
query ProductsPage($first: Int!, $after: String) {
  products(first: $first, after: $after, sortKey: UPDATED_AT) {
    nodes { ...ProductFields }
    %s
  }
}
"""
    % _PAGE_INFO
    + PRODUCT_FIELDS,
)

DELETION_EVENTS = Document(
    "DeletionEvents",
    """
query DeletionEvents($first: Int!, $after: String, $query: String) {
  events(first: $first, after: $after, sortKey: CREATED_AT, query: $query) {
    nodes {
      id action createdAt
      ... on BasicEvent { subjectId subjectType }
    }
    %s
  }
}
"""
    % _PAGE_INFO,
)
"""``destroy`` events, oldest first: what Shopify keeps of a deleted order, customer or product
(``events`` replaces the deprecated ``deletionEvents``, which covered products only)."""

# --- bulk export -------------------------------------------------------------------------------

BULK_RUN_QUERY = Document(
    "BulkOperationRunQuery",
    """
mutation BulkOperationRunQuery($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
""",
)
"""``groupObjects: true`` is explicit: since 2025-10 it defaults to false, and only grouped output
guarantees that an order's line items directly follow it, which streaming reassembly relies on."""

BULK_OPERATION = Document(
    "BulkOperationStatus",
    """
query BulkOperationStatus($id: ID!) {
  bulkOperation(id: $id) {
    id status errorCode objectCount rootObjectCount fileSize url partialDataUrl
  }
}
""",
)


def bulk_orders_query(search: str | None = None) -> str:
    """The inner query of the orders bulk export: ``edges{node}``, two connections, depth 2.

    Fields are written inline rather than through fragments: bulk queries are a restricted
    dialect and plain selections are what the bulk operations guide shows.
    """
    args = "sortKey: UPDATED_AT"
    if search:
        args += f", query: {json.dumps(search)}"
    return (
        """
{
  orders(%s) {
    edges {
      node {%s
        lineItems {
          edges { node {%s} }
        }
      }
    }
  }
}
"""
        % (args, _ORDER_BODY, _LINE_ITEM_BODY)
    )


READ_DOCUMENTS: list[Document] = [
    SHOP_INFO,
    ACCESS_SCOPES,
    CUSTOMERS_PAGE,
    ORDERS_PAGE,
    ORDER_LINE_ITEMS,
    ORDERS_COUNT,
    PRODUCTS_PAGE,
    DELETION_EVENTS,
    BULK_RUN_QUERY,
    BULK_OPERATION,
]
