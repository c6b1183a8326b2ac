"""Statuses (and GraphQL error codes) → :mod:`winback.errors`, one table per platform.

A platform's wording is an :class:`ErrorTable`: rules tried in order, each naming the statuses it
answers, an optional predicate on what the platform said, the error class and a message template.
A table is itself an :data:`ErrorMapper`; whatever a platform's table leaves is worded by
:data:`DEFAULT_ERRORS` (see :func:`error_for`).

Templates may use ``{store}``, ``{status}``, ``{code}``, ``{detail}`` (the platform's own words,
redacted), ``{path}``, ``{scope}``, ``{permission}`` and the table's own fields. They are filled
from the response body and the store label only, never from request headers, so no secret gets in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from winback import errors
from winback.secrets import redact

ErrorMapper = Callable[[httpx.Response, str], errors.WinbackError | None]
"""Connector hook: return an error for a response, or ``None`` to fall back to the default."""


_MESSAGE_KEYS = ("errorMessage", "errors", "error", "message")


def platform_message(response: httpx.Response, keys: tuple[str, ...] = _MESSAGE_KEYS) -> str:
    """A short, secret-free description of the platform's error body: the first of ``keys`` it has."""
    try:
        body = response.json()
    except ValueError:
        return redact(response.text.strip().replace("\n", " ")[:200])
    if isinstance(body, Mapping):
        for key in keys:
            value = body.get(key)
            if isinstance(value, list) and value and isinstance(value[0], Mapping):
                value = value[0].get("message", value[0])
            if value:
                return redact(str(value)[:300])
    return redact(str(body)[:200])


@dataclass(frozen=True)
class Failure:
    """What a rule may look at: the HTTP status or GraphQL code, the platform's words, the path."""

    store: str
    status: int | None = None
    code: str | None = None
    detail: str = ""
    path: str = ""
    scope: str | None = None

    @property
    def permission(self) -> str:
        return f"the {self.scope} scope" if self.scope else "a permission"

    def fields(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "permission": self.permission}


@dataclass(frozen=True)
class ErrorRule:
    """``status`` (or ``code``) → ``error`` with ``message``, where ``when`` holds.

    ``keeps`` names :class:`Failure` fields handed to the error as keyword arguments (``scope``,
    ``code``); ``extra`` adds fixed ones, themselves templates (``code="{status}"``).
    """

    error: type[errors.ConnectorError]
    message: str
    status: Container[int] | None = None
    code: Container[str] | None = None
    when: Callable[[Failure], bool] | None = None
    keeps: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)

    def matches(self, failure: Failure) -> bool:
        if self.status is not None and failure.status not in self.status:
            return False
        if self.code is not None and failure.code not in self.code:
            return False
        return self.when is None or self.when(failure)

    def build(self, failure: Failure, fields: Mapping[str, Any]) -> errors.ConnectorError:
        values = {**fields, **failure.fields()}
        kwargs = {name: getattr(failure, name) for name in self.keeps}
        kwargs.update({name: template.format_map(values) for name, template in self.extra.items()})
        return self.error(self.message.format_map(values), store=failure.store, **kwargs)


@dataclass(frozen=True)
class ErrorTable:
    """One platform's rules, tried in order; the first that matches words the error."""

    rules: tuple[ErrorRule, ...]
    detail: Callable[[httpx.Response], str] = platform_message
    scope_in_detail: re.Pattern[str] | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def with_fields(self, **fields: Any) -> ErrorTable:
        return dataclasses.replace(self, fields={**self.fields, **fields})

    def failure(self, response: httpx.Response, store: str) -> Failure:
        detail = self.detail(response)
        found = self.scope_in_detail.search(detail) if self.scope_in_detail else None
        return Failure(
            store=store,
            status=response.status_code,
            detail=detail,
            path=response.request.url.path.rstrip("/"),
            scope=found.group(1) if found else None,
        )

    def error(self, failure: Failure, **fields: Any) -> errors.ConnectorError | None:
        for rule in self.rules:
            if rule.matches(failure):
                return rule.build(failure, {**self.fields, **fields})
        return None

    def __call__(self, response: httpx.Response, store: str) -> errors.WinbackError | None:
        return self.error(self.failure(response, store))


DEFAULT_ERRORS = ErrorTable(
    (
        ErrorRule(
            errors.AuthenticationError,
            "{store} rejected the access token (HTTP 401): it is wrong, revoked or expired. "
            "Create a new token for this store and update the config.",
            status={401},
        ),
        ErrorRule(
            errors.StoreFrozenError,
            "{store} is frozen (HTTP 402): the store's plan is unpaid or paused, so its API refuses "
            "requests. Ask the merchant to settle the account.",
            status={402},
        ),
        ErrorRule(
            errors.MissingScopeError,
            "{store} refused access (HTTP 403): the token lacks a permission. Platform said: {detail}",
            status={403},
        ),
        ErrorRule(
            errors.StoreNotFoundError,
            "{store} was not found (HTTP 404): check the store id or domain in the config.",
            status={404},
        ),
        ErrorRule(
            errors.StoreLockedError,
            "{store} is locked by the platform (HTTP 423); it cannot be used until the platform unlocks it.",
            status={423},
        ),
        ErrorRule(
            errors.RateLimitedError,
            "{store} kept rate-limiting us (HTTP 429) after every retry; try again later.",
            status={429},
        ),
        ErrorRule(
            errors.PlatformUnavailableError,
            "{store}'s platform kept failing (HTTP {status}) after every retry; try again later.",
            status=range(500, 1000),
        ),
        ErrorRule(errors.PlatformRejectedError, "{store} refused the request (HTTP {status}): {detail}"),
    )
)
"""The wording for any platform, for whatever its own table leaves."""


def error_for(response: httpx.Response, store: str, mapper: ErrorMapper | None = None) -> errors.WinbackError:
    """A final non-2xx response as a merchant-readable error: ``mapper``'s wording, else the default."""
    mapped = mapper(response, store) if mapper is not None else None
    if mapped is not None:
        return mapped
    default = DEFAULT_ERRORS(response, store)
    assert default is not None, "DEFAULT_ERRORS ends with a rule for every status"
    return default
