"""HttpClient builds each request's URL once (``url_for``): the URL sent must be exactly the one
httpx itself builds from ``base_url``, the path and ``params``, byte for byte, for every path and
parameter shape; anything it does not handle falls back to httpx's own merging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from winback.connectors.auth import StaticToken
from winback.connectors.http import HttpClient

BASES = ["https://acme.example.test/api/v3/1003", "https://acme.example.test/api/v3/1003/", "http://127.0.0.1:8123"]

PATHS = [
    "/orders",
    "/customers/42",
    "/a b/ü/%41x",
    "/discount_coupons/SAVE 10%",
    "/x/../y/./z",
    "/",
    "/products;v=1/it:em",
]

PARAMS: list[Any] = [
    None,
    {},
    {"responseFields": "total,count,items(id,email,items(id,sku))", "limit": 100, "offset": 0},
    {"q": "a b+c&d=e#f?g", "email": "Zoë+tag@example.com", "flag": True, "off": False, "none": None},
    {"ids": [1, 2, 3], "empty": []},
    {"only_empty": []},
    [("k", "v1"), ("k", "v2"), ("u", "ü")],
    httpx.QueryParams({"page": 2, "token": "s3cr3t"}),
    "already=encoded&x=%2C",
]


def _client(base: str, transport: httpx.AsyncBaseTransport | None = None) -> HttpClient:
    # a transport of its own spares each test building an SSL context (pytest-httpx replaces it anyway)
    return HttpClient(
        base_url=base, auth=StaticToken("tok_url_tests_0123456789"), store_label="acme",
        transport=transport or httpx.MockTransport(lambda request: httpx.Response(204)),
    )


def _httpx_url(base: str, path: str, params: Any) -> str:
    plain = httpx.Client(base_url=base, transport=httpx.MockTransport(lambda request: httpx.Response(204)))
    return str(plain.build_request("GET", path, params=params).url)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("params", PARAMS, ids=range(len(PARAMS)))
def test_url_for_is_the_url_httpx_builds(base: str, path: str, params: Any) -> None:
    built = _client(base).url_for(path, params)
    assert built is not None
    assert str(built) == _httpx_url(base, path, params)


@pytest.mark.parametrize(
    "path",
    ["https://other.example.test/bulk/export.jsonl?sig=abc", "/orders?limit=5", "/orders#frag", "orders", "//evil.test/x"],
)
def test_url_for_leaves_absolute_urls_queries_and_bare_paths_to_httpx(path: str) -> None:
    assert _client(BASES[0]).url_for(path, {"a": 1}) is None


def test_url_for_leaves_a_base_url_with_a_query_to_httpx() -> None:
    assert _client("https://acme.example.test/api?lang=en").url_for("/orders", {"a": 1}) is None


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/orders", {"responseFields": "total,items(id)", "offset": 200, "flag": True}),
        ("/orders?limit=5", {"offset": 10}),  # merged by httpx itself
        ("https://files.example.test/export.jsonl", None),
        ("/customers/7", None),
    ],
)
async def test_requests_go_to_the_url_httpx_would_build(httpx_mock: HTTPXMock, path: str, params: Any) -> None:
    base = BASES[0]
    expected = _httpx_url(base, path, params)
    httpx_mock.add_response(url=expected, json={"ok": True})
    async with HttpClient(base_url=base, auth=StaticToken("tok_url_tests_0123456789"), store_label="acme") as client:
        response = await client.request("GET", path, params=params, idempotent=True)
    assert response.json() == {"ok": True}
    [sent] = httpx_mock.get_requests()
    assert str(sent.url) == expected
    assert sent.headers["Authorization"] == "Bearer tok_url_tests_0123456789"
