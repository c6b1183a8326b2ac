"""The connector's reads as the kit calls them, and a bounded way to read one to its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

from winback.connectors.base import Connector, Page, Resource
from winback.model import Customer, Order, Product
from winback.testing._guard import Guard


@dataclass(frozen=True, slots=True)
class Read:
    """One read of the :class:`~winback.connectors.base.Connector` protocol.

    ``full`` is the ``orders(full=True)`` first read, which may take another path (a bulk export).
    Reads that accept ``updated_since`` are the ones whose pages carry a cursor for the sync engine.
    """

    name: str
    resource: Resource
    model: type[BaseModel]
    full: bool = False

    @property
    def takes_cursor(self) -> bool:
        return self.resource is not Resource.PRODUCTS

    def call(self, updated_since: datetime | None = None) -> str:
        """How the call reads in a failure message."""
        if self.resource is Resource.PRODUCTS:
            return "products()"
        args = [] if updated_since is None else [f"updated_since={updated_since.isoformat()}"]
        if self.full:
            args.append("full=True")
        return f"{self.resource.value}({', '.join(args)})"

    def pages(self, connector: Connector, updated_since: datetime | None = None) -> AsyncIterator[Page[Any]]:
        if self.resource is Resource.CUSTOMERS:
            return connector.customers(updated_since)
        if self.resource is Resource.ORDERS:
            return connector.orders(updated_since, full=self.full)
        return connector.products()


CUSTOMERS = Read("customers", Resource.CUSTOMERS, Customer)
ORDERS = Read("orders", Resource.ORDERS, Order)
ORDERS_FULL = Read("orders-full", Resource.ORDERS, Order, full=True)
PRODUCTS = Read("products", Resource.PRODUCTS, Product)
READS: tuple[Read, ...] = (CUSTOMERS, ORDERS, ORDERS_FULL, PRODUCTS)
CURSOR_READS: tuple[Read, ...] = tuple(read for read in READS if read.takes_cursor)
BY_RESOURCE: dict[Resource, Read] = {read.resource: read for read in (CUSTOMERS, ORDERS, PRODUCTS)}


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    close: Callable[[], Any] | None = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def read_pages(
    pages: Callable[[], AsyncIterator[Page[Any]]],
    *,
    what: str,
    guard: Guard,
    max_pages: int,
    timeout_s: float,
) -> list[Page[Any]]:
    """Every page of one read; fails the test if it does not end within ``max_pages`` and ``timeout_s``."""
    collected: list[Page[Any]] = []
    try:
        async with asyncio.timeout(timeout_s):
            with guard.calling(what):
                iterator = pages()
                try:
                    async for page in iterator:
                        collected.append(page)
                        if len(collected) > max_pages:
                            pytest.fail(
                                f"{what} did not end after {max_pages} pages: paging must stop when the "
                                f"platform says there is no next page (raise max_pages if the store is that big)",
                                pytrace=False,
                            )
                finally:
                    await _aclose(iterator)
    except TimeoutError:
        pytest.fail(
            f"{what} did not end within {timeout_s:g} s ({len(collected)} pages so far): a read must end "
            f"(raise read_timeout_s if the store is that slow)",
            pytrace=False,
        )
    return collected


async def first_page(pages: Callable[[], AsyncIterator[Page[Any]]]) -> Page[Any] | None:
    """The first page of a read (``None`` when it is empty); the read is closed afterwards."""
    iterator = pages()
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return None
    finally:
        await _aclose(iterator)
