"""What the Ecwid connector asks for with ``responseFields``: the fields its parser reads.

Why
    An Ecwid order carries a hundred-odd fields (taxes, shipping options, translations of every
    item's name and options, tracking data...) and the parser reads about twenty of them. Ecwid
    documents ``responseFields`` on its order and customer searches (``?responseFields=items(id,
    total)``), so the connector asks for the envelope and those fields only: each page is several
    times smaller for Ecwid to send and for us to decode, which is most of a sync's cost.

Keep these in step with :mod:`~winback.connectors.ecwid.parse`: a field the parser reads but that
is not named here arrives missing. ``tests/unit/test_ecwid_response_fields_cover_parse.py`` parses
every record of the emulator's store both whole and narrowed to these fields and requires the same
result. Objects whose fields the parser picks among (``billingPerson``, ``stats``, ``refunds``,
``discountCoupon``, ``extraFields``) are asked for whole: they are small, and a field Ecwid adds
there later still reaches the parser. Products are few and are read whole.
"""

from __future__ import annotations

ENVELOPE = "total,count,offset,limit"

ORDER_FIELDS = (
    "id,internalId,createTimestamp,createDate,updateTimestamp,updateDate,"
    "paymentStatus,fulfillmentStatus,total,refundedAmount,refunds,"
    "customerId,email,acceptMarketing,billingPerson,discountCoupon,"
    "items(id,productId,sku,name,quantity,price)"
)

CUSTOMER_FIELDS = (
    "id,name,email,registered,updated,acceptMarketing,billingPerson,stats,totalOrderCount,extraFields"
)

ORDERS = f"{ENVELOPE},items({ORDER_FIELDS})"
"""``responseFields`` of an order search."""

CUSTOMERS = f"{ENVELOPE},items({CUSTOMER_FIELDS})"
"""``responseFields`` of a customer search."""
