"""The Shopify cursor paginator: which cursor the next request sends, and when paging stops."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from winback.connectors.shopify.paging import CursorPaginator, search_since


def test_first_request_sends_no_cursor_then_the_end_cursor() -> None:
    paginator = CursorPaginator()
    assert paginator.variables({"first": 50}) == {"first": 50, "after": None}
    paginator.advance({"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": "c1"}})
    assert not paginator.finished
    assert paginator.variables({"first": 50}) == {"first": 50, "after": "c1"}


@pytest.mark.parametrize(
    "page_info",
    [{"hasNextPage": False, "endCursor": "c2"}, {"hasNextPage": True, "endCursor": None}, {}],
    ids=["last-page", "no-cursor", "no-page-info"],
)
def test_paging_stops_without_a_next_page_and_a_cursor(page_info: dict) -> None:
    paginator = CursorPaginator("c1")
    paginator.advance({"nodes": [], "pageInfo": page_info})
    assert paginator.finished
    assert paginator.current_value == "c1"


def test_search_since_quotes_a_utc_stamp_and_passes_none_through() -> None:
    since = datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert search_since(since) == "updated_at:>='2026-01-01T00:00:00Z'"
    assert search_since(None) is None
    with pytest.raises(ValueError):
        search_since(datetime(2026, 1, 1))
