"""The Ecwid windowed reader reads the next window while the caller works on the current one.

What must hold: the next window is requested before the caller asks for its first page (the
platform works while winback parses and commits); the requests are exactly those of a caller that
takes every page at once (one in flight at a time, same order); an error of the next window comes
after every page of the current one; a caller that stops early leaves no reading task behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from tests.unit.ecwid_store_fake import FakeSearch
from tests.unit.test_ecwid_windows import NOW, reader, uniform


async def _read_slowly(store: FakeSearch) -> list[list[dict]]:
    """Pages taken by a caller that yields to the event loop for a while after each page."""
    pages = []
    async for page in reader(store).pages(0):
        pages.append(page)
        for _ in range(20):
            await asyncio.sleep(0)
    return pages


async def test_the_next_window_is_read_while_the_caller_holds_the_current_one() -> None:
    store = FakeSearch(uniform(5_000, 365))
    pages = reader(store).pages(0)
    first = await anext(pages)
    window = (store.log[-1].lo, store.log[-1].hi)
    asked = len(store.log)
    for _ in range(50):
        await asyncio.sleep(0)
    later = [r for r in store.log[asked:] if (r.lo, r.hi) != window]
    assert later, "nothing was read ahead while the caller held a page"
    assert all(r.lo > (window[1] or NOW) for r in later), "read ahead went back over the current window"
    assert first and all(r["updated"] <= (window[1] or NOW) for r in first)
    await pages.aclose()


async def test_reading_ahead_sends_the_requests_of_a_serial_read_in_the_same_order() -> None:
    fast, slow = FakeSearch(uniform(8_000, 730, seed=3)), FakeSearch(uniform(8_000, 730, seed=3))
    quick = [page async for page in reader(fast).pages(0)]
    patient = await _read_slowly(slow)
    assert fast.log == slow.log
    assert quick == patient
    assert sorted(r["id"] for page in quick for r in page) == sorted(fast.records)


async def test_an_error_of_the_next_window_comes_after_every_page_of_the_current_one() -> None:
    store = FakeSearch(uniform(5_000, 365))
    paged: list[int] = []
    """``updatedTo`` of the windows read past their first page, in order."""

    async def failing(params: Mapping[str, Any]) -> Mapping[str, Any]:
        hi = params.get("updatedTo")
        if params["offset"] > 0 and hi is not None and int(hi) not in paged:
            paged.append(int(hi))
        if params["offset"] == 0 and params["limit"] > 1 and paged and int(params["updatedFrom"]) > paged[0]:
            raise ConnectionError("the platform went away")  # the first window after a whole one
        return await store.fetch(params)

    ecwid = reader(store)
    ecwid._fetch = failing
    got: list[list[dict]] = []
    with pytest.raises(ConnectionError):
        async for page in ecwid.pages(0):
            got.append(page)
    stamps = [r["updated"] for page in got for r in page]
    assert stamps and max(stamps) <= paged[0]
    assert len(stamps) == sum(1 for u in store.records.values() if u <= paged[0])


async def test_a_caller_that_stops_early_leaves_no_reading_task() -> None:
    store = FakeSearch(uniform(5_000, 365))
    pages = reader(store).pages(0)
    await anext(pages)
    await asyncio.sleep(0)
    await pages.aclose()
    asked = len(store.log)
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(store.log) == asked, "a request was sent after the caller stopped"
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "winback-ecwid-next-window"]
