"""Ecwid's HTTP statuses as merchant-readable :mod:`winback.errors` (the connector's ``error_mapper``).

Kept apart from the connector so the wording a merchant sees can be read and changed in one place;
the shared defaults (429, 5xx) stay in :data:`winback.connectors.http_errors.DEFAULT_ERRORS`.
"""

from __future__ import annotations

import re
from functools import partial

from winback import errors
from winback.connectors.ecwid.profile import SCOPE_REMEDY
from winback.connectors.http_errors import ErrorRule, ErrorTable, Failure, platform_message

_SCOPE_RE = re.compile(r"\b((?:read|create|update|delete|customize)_[a-z_]+)\b")
_BAD_TOKEN_RE = re.compile(r"token", re.IGNORECASE)
_RECORD_PATH_RE = re.compile(r"/api/v3/[^/]+/[a-z_]+/[^/]+$")
"""``/api/v3/{storeId}/{resource}/{id}``: a 404 there is a missing record, not a missing store."""


def _names_a_record(failure: Failure) -> bool:
    return bool(_RECORD_PATH_RE.search(failure.path)) and "store with id" not in failure.detail.lower()


def _names_a_scope(failure: Failure) -> bool:
    return failure.scope is not None


def _blames_the_token(failure: Failure) -> bool:
    """A 401, or a 403 that speaks of the token and not of a scope."""
    detail = failure.detail
    return failure.status == 401 or bool(_BAD_TOKEN_RE.search(detail) and "scope" not in detail.lower())


def _already_exists(error: type[errors.PlatformRejectedError], thing: str, path: str, field: str) -> ErrorRule:
    """A 409 from a create at ``path``: Ecwid already has a ``thing`` with the same ``field``."""
    return ErrorRule(
        error,
        f"{{store}} already has a {thing} (HTTP 409). Ecwid said: {{detail}}",
        status={409},
        when=lambda failure: failure.path.endswith(path),
        extra={"code": "TAKEN", "field": field},
    )


map_error = ErrorTable(
    (
        ErrorRule(
            errors.MissingScopeError,
            "{store} refused the request (HTTP {status}): the access token lacks the {scope} scope. "
            + SCOPE_REMEDY + " Ecwid said: {detail}",
            status={401, 403},
            when=_names_a_scope,
            keeps=("scope",),
        ),
        ErrorRule(
            errors.AuthenticationError,
            "{store} rejected the access token (HTTP {status}): it is wrong, revoked or belongs to another "
            "store. Copy the secret token from the app's settings in Ecwid and update the config. "
            "Ecwid said: {detail}",
            status={401, 403},
            when=_blames_the_token,
        ),
        ErrorRule(
            errors.MissingScopeError,
            "{store} refused access (HTTP {status}): the token is wrong or lacks a permission for {path}. "
            "Check the token; a missing scope is added by Ecwid, not by a new token (see the app's "
            "Details in Ecwid admin → Apps → My apps). Ecwid said: {detail}",
            status={403},
        ),
        ErrorRule(
            errors.StoreFrozenError,
            "{store} refused API access (HTTP 402): the store's plan doesn't allow API access or the store "
            "is suspended. The merchant must upgrade or reactivate the plan. Ecwid said: {detail}",
            status={402},
        ),
        ErrorRule(
            errors.PlatformRejectedError,
            "{store} has no such record (HTTP 404): {detail}",
            status={404},
            when=_names_a_record,
            extra={"code": "NOT_FOUND"},
        ),
        ErrorRule(
            errors.StoreNotFoundError,
            "{store} was not found (HTTP 404): check store_id in the config (it is the number in the "
            "Ecwid admin URL). Ecwid said: {detail}",
            status={404},
        ),
        _already_exists(errors.DiscountCodeTakenError, "discount coupon with this code", "/discount_coupons", "code"),
        _already_exists(errors.CustomerExistsError, "customer with this email", "/customers", "email"),
        ErrorRule(
            errors.PlatformRejectedError,
            "{store} refused the request (HTTP {status}): {detail}",
            status={400, 409, 415, 422},
            extra={"code": "{status}"},
        ),
    ),
    detail=partial(platform_message, keys=("errorMessage",)),
    scope_in_detail=_SCOPE_RE,
)
"""Ecwid's statuses as merchant-readable errors (``None``: use the shared default)."""
