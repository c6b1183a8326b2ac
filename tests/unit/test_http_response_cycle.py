"""A response HttpClient returns is freed when its reader drops it, not when the garbage collector
next runs: httpx leaves every response in a reference cycle with its stream, which kept each page's
body alive until a collection (the sync raises the collector's threshold on the strength of this:
``winback.sync.gc_pause``)."""

from __future__ import annotations

import gc
import weakref

import httpx
import pytest

from winback.connectors.auth import StaticToken
from winback.connectors.http import HttpClient

BODY = b'{"items": [' + b",".join(b'{"id": %d}' % i for i in range(50)) + b"]}"


def _client(status: int) -> HttpClient:
    return HttpClient(
        base_url="https://acme.example.test/api/v3/1003", auth=StaticToken("tok_cycle_tests_0123456789"),
        store_label="acme",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, content=BODY)),
    )


@pytest.mark.parametrize("status", [200, 404])
async def test_a_read_response_is_freed_without_the_collector(status: int) -> None:
    async with _client(status) as client:
        gc.collect()
        gc.disable()
        try:
            response = await client.request("GET", "/orders", idempotent=True, raise_for_status=False)
            assert response.status_code == status
            assert response.content == BODY
            assert response.json()["items"][49] == {"id": 49}  # still readable as before
            freed = weakref.ref(response)
            del response
            assert freed() is None, "the response outlived its last reference (a reference cycle)"
        finally:
            gc.enable()

