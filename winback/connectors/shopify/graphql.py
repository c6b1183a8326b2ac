"""GraphQL over :class:`~winback.connectors.http.HttpClient`: cost pacing, THROTTLED, error mapping.

HttpClient owns transport retries (5xx and dropped connections on reads, connection failures on
everything, token refresh after a 401). This layer adds what is Shopify-specific:

* it paces requests with the :class:`~.throttle.CostBucket` and, when throttled anyway (HTTP 200
  with ``errors[0].extensions.code == "THROTTLED"`` and no data, or HTTP 429), waits
  ``(requested - currentlyAvailable) / restoreRate`` seconds (or ``Retry-After``) and retries,
  a bounded number of times;
* an undecodable 200 body is retried a few times on reads (truncated bodies happen); on a
  mutation it is ambiguous — the write may have been applied — so :class:`AmbiguousWriteError`;
* top-level ``errors`` become :mod:`winback.errors` exceptions with the store named, and HTTP
  statuses get Shopify-specific wording from :data:`SHOPIFY_ERRORS`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from functools import lru_cache, partial
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from winback import errors
from winback.connectors.http import HttpClient
from winback.connectors.http_errors import ErrorMapper, ErrorRule, ErrorTable, Failure, error_for, platform_message
from winback.connectors.retry import RETRYABLE_STATUSES, AmbiguousWriteError, parse_retry_after
from winback.connectors.shopify.documents import Document
from winback.connectors.shopify.profile import SCOPES
from winback.connectors.shopify.throttle import CostBucket, estimate_cost, parsed
from winback.secrets import redact

log = logging.getLogger("winback.connectors.shopify")

REQUIRED_SCOPES = frozenset(SCOPES)
"""The profile's table is the one source (a write scope grants its read scope on Shopify)."""
_SCOPE_IN_TEXT = re.compile(r"\b((?:read|write|unauthenticated_read|unauthenticated_write)_[a-z_]+)\b")


# --- HTTP status → error -----------------------------------------------------------------------


SHOPIFY_ERRORS = ErrorTable(
    (
        ErrorRule(
            errors.AuthenticationError,
            "the access token for {store} was rejected (HTTP 401: {detail}): it is wrong, revoked or "
            "expired. Create a new Admin API access token for the app (scopes: {scopes}) and "
            "update the config.",
            status={401},
        ),
        ErrorRule(
            errors.StoreFrozenError,
            "{store} is frozen (HTTP 402 Payment Required): the shop's plan is unpaid or paused and "
            "Shopify refuses API requests until the merchant settles the account.",
            status={402},
        ),
        ErrorRule(
            errors.MissingScopeError,
            "{store} refused access (HTTP 403): the app's token lacks {permission}. Add it to the app: "
            "for a Dev Dashboard app release a new app version (Dev Dashboard → the app → Versions) whose "
            "access scopes include it and have the merchant approve the updated scopes (authorization code: "
            "run `winback connect` again; client credentials: the next token carries it); for a pre-2026 "
            "admin-created app add it under Configuration → Admin API access scopes. "
            "Shopify said: {detail}",
            status={403},
            keeps=("scope",),
        ),
        ErrorRule(
            errors.StoreNotFoundError,
            "{store} was not found (HTTP 404) at /admin/api/{api_version}/graphql.json: check the shop "
            "domain in the config and that API version {api_version} is still supported by Shopify.",
            status={404},
        ),
        ErrorRule(
            errors.StoreLockedError,
            "{store} is locked by Shopify (HTTP 423 Locked); its API cannot be used until Shopify "
            "unlocks the shop. The merchant should contact Shopify support.",
            status={423},
        ),
    ),
    detail=partial(platform_message, keys=("errors", "error")),
    scope_in_detail=_SCOPE_IN_TEXT,
    fields={"scopes": ", ".join(sorted(REQUIRED_SCOPES))},
)
"""Shopify's wording for HTTP statuses; needs ``api_version`` (see :func:`make_error_mapper`)."""


def make_error_mapper(api_version: str) -> ErrorMapper:
    """An ``error_mapper`` for HttpClient with Shopify's wording for each status."""
    return SHOPIFY_ERRORS.with_fields(api_version=api_version)


# --- top-level GraphQL errors → error ----------------------------------------------------------


GRAPHQL_ERRORS = ErrorTable(
    (
        ErrorRule(
            errors.MissingScopeError,
            "{store} denied {operation}: the app lacks {permission}. Add {needed} to the app: release a new "
            "app version whose access scopes include it (Dev Dashboard → the app → Versions) and have the "
            "merchant approve the updated scopes on {store} (authorization code: run `winback connect` "
            "again); for a pre-2026 admin-created app add it under Configuration → Admin API access scopes. "
            "Shopify said: {detail}",
            code={"ACCESS_DENIED"},
            keeps=("scope",),
        ),
        ErrorRule(
            errors.QueryError,
            "{store} refused {operation} as too expensive (MAX_COST_EXCEEDED): {detail}. Lower page_size "
            "or order_line_items in the config.",
            code={"MAX_COST_EXCEEDED"},
            keeps=("code",),
        ),
        ErrorRule(errors.QueryError, "{store} rejected {operation} ({label}): {detail}", keeps=("code",)),
    )
)
"""Top-level GraphQL ``errors`` by their ``extensions.code``."""


def _first_error(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    found = body.get("errors")
    if isinstance(found, list) and found and isinstance(found[0], Mapping):
        return found[0]
    if isinstance(found, (str, Mapping)) and found:
        return {"message": str(found)}
    return None


def _code(error: Mapping[str, Any] | None) -> str | None:
    if error is None:
        return None
    extensions = error.get("extensions")
    if isinstance(extensions, Mapping) and isinstance(extensions.get("code"), str):
        return extensions["code"]
    return None


def is_throttled(body: Any) -> bool:
    if not isinstance(body, Mapping) or body.get("data") is not None:
        return False
    errors_ = body.get("errors")
    if not isinstance(errors_, list):
        return False
    return any(_code(e) == "THROTTLED" for e in errors_ if isinstance(e, Mapping))


def _required_scope(error: Mapping[str, Any]) -> str | None:
    extensions = error.get("extensions")
    texts: list[str] = []
    if isinstance(extensions, Mapping) and extensions.get("requiredAccess"):
        texts.append(str(extensions["requiredAccess"]))
    texts.append(str(error.get("message", "")))
    for text in texts:
        found = _SCOPE_IN_TEXT.search(text.replace("`", ""))
        if found:
            return found.group(1)
    return None


def error_for_graphql(body: Mapping[str, Any], store: str, operation: str) -> errors.WinbackError:
    error = _first_error(body) or {"message": "unknown error"}
    code = _code(error)
    scope = _required_scope(error) if code == "ACCESS_DENIED" else None
    failure = Failure(store=store, code=code, detail=redact(str(error.get("message", ""))[:300]), scope=scope)
    found = GRAPHQL_ERRORS.error(
        failure, operation=operation, needed=scope or "the missing scope", label=code or "GraphQL error"
    )
    assert found is not None, "GRAPHQL_ERRORS ends with a rule for every code"
    return found


# --- the client --------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _estimate_for(text: str, sizes: frozenset[tuple[str, int]]) -> int:
    return estimate_cost(parsed(text), dict(sizes))


def estimated_cost(document: Document, variables: Mapping[str, Any]) -> int:
    """:func:`~.throttle.estimate_cost` of ``document``, remembered per document and integer
    variables (the only ones an estimate reads), since every page of a read asks again."""
    sizes = frozenset((k, v) for k, v in variables.items() if isinstance(v, int))
    return _estimate_for(document.text, sizes)


def _json(value: Any) -> bytes:
    """``value`` as httpx's ``json=`` encodes a request body (compact, UTF-8, no NaN)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


@lru_cache(maxsize=256)
def _body_start(text: str) -> bytes:
    return b'{"query":' + _json(text) + b',"variables":'


def request_body(document: Document, variables: Mapping[str, Any]) -> bytes:
    """The body of a request for ``document``: byte for byte what ``json={"query": document.text,
    "variables": variables}`` sends, with the document's part encoded once per document rather
    than on every page (it is most of the body, and every character is escaped again each time)."""
    return _body_start(document.text) + _json(variables) + b"}"


class Decoder(Protocol):
    """Reads an answer's bytes straight into Python, or raises :class:`pydantic.ValidationError`
    (a ``pydantic_core.SchemaValidator`` is one; see :mod:`.decode`)."""

    def validate_json(self, data: bytes) -> Any: ...


class Decoded(dict[str, Any]):
    """An answer's ``data`` as the caller's ``decoder`` built it (records where the document has nodes)."""


class GraphQLClient:
    """Sends :class:`Document` objects to one shop's Admin GraphQL endpoint."""

    def __init__(
        self,
        http: HttpClient,
        *,
        endpoint: str,
        store: str,
        bucket: CostBucket,
        error_mapper: ErrorMapper | None = None,
        max_throttle_retries: int = 10,
        malformed_retries: int = 3,
        backoff_s: float = 1.0,
    ) -> None:
        self.http = http
        self.endpoint = endpoint
        self._url = httpx.URL(endpoint)
        """Parsed once: given the text, httpx parses it again for every request."""
        self.store = store
        self.bucket = bucket
        self._error_mapper = error_mapper
        self.max_throttle_retries = max_throttle_retries
        self.malformed_retries = malformed_retries
        self.backoff_s = backoff_s
        self.throttled = 0
        """How many THROTTLED/429 answers we got (for tests and status output)."""

    async def execute(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = None,
        *,
        idempotent: bool | None = None,
        decoder: Decoder | None = None,
    ) -> dict[str, Any]:
        """Run ``document``; return its ``data`` or raise a :mod:`winback.errors` error.

        ``idempotent`` defaults to "not a mutation". A ``decoder`` (see :mod:`.decode`) reads a
        successful answer's bytes straight into ``{"data": ..., "extensions": ...}``; its
        ``data`` is returned as :class:`Decoded`. An answer it refuses (errors, throttling, a
        record it does not take) goes the ordinary way and plain ``data`` is returned.
        """
        if idempotent is None:
            idempotent = not document.is_mutation
        variables = dict(variables or {})
        estimate = estimated_cost(document, variables)
        sent = request_body(document, variables)
        throttled = malformed = 0
        while True:
            await self.bucket.acquire(document.name, estimate)
            response = await self.http.request(
                "POST",
                self._url,  # type: ignore[arg-type]  # HttpClient hands a URL to httpx as it is
                content=sent,
                idempotent=idempotent,
                retry_statuses=RETRYABLE_STATUSES - {429},
                raise_for_status=False,
                headers={"Content-Type": "application/json"},
            )
            if decoder is not None and response.status_code == 200:
                try:
                    answer = decoder.validate_json(response.content)
                except ValidationError:
                    pass
                else:
                    extensions = answer.get("extensions")
                    self.bucket.observe(document.name, extensions.get("cost") if isinstance(extensions, Mapping) else None)
                    return Decoded(answer["data"])
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, Mapping):
                extensions = body.get("extensions")
                cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
                self.bucket.observe(document.name, cost)
            else:
                cost = None

            if response.status_code == 429 or (response.is_success and is_throttled(body)):
                throttled += 1
                self.throttled += 1
                if throttled > self.max_throttle_retries:
                    raise errors.RateLimitedError(
                        f"{self.store} kept throttling {document.name} after {self.max_throttle_retries} "
                        f"waits; try again later or lower page_size.",
                        store=self.store,
                    )
                wait = CostBucket.throttled_wait(cost)
                if wait is None:
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                if wait is None:
                    wait = min(30.0, self.backoff_s * (2 ** (throttled - 1)))
                log.info("%s: %s throttled; waiting %.2f s", self.store, document.name, wait)
                await self.bucket.sleep(wait)
                continue

            if not response.is_success:
                raise error_for(response, self.store, self._error_mapper)

            if not isinstance(body, Mapping):
                if not idempotent:
                    raise AmbiguousWriteError(
                        f"{self.store} answered {document.name} with a body that is not JSON; the write "
                        f"may or may not have been applied",
                        store=self.store,
                    )
                malformed += 1
                if malformed <= self.malformed_retries:
                    log.info("%s: %s answered with malformed JSON; retrying", self.store, document.name)
                    await self.bucket.sleep(min(5.0, self.backoff_s * malformed))
                    continue
                raise errors.UnexpectedResponseError(
                    f"{self.store} answered {document.name} with a body that is not JSON "
                    f"(HTTP {response.status_code}), {malformed} times in a row",
                    store=self.store,
                )

            if body.get("errors"):
                raise error_for_graphql(body, self.store, document.name)
            data = body.get("data")
            if not isinstance(data, Mapping):
                raise errors.UnexpectedResponseError(
                    f"{self.store} answered {document.name} without data or errors", store=self.store
                )
            return dict(data)
