"""One exception tree for the whole project.

Every error a merchant can meet derives from :class:`WinbackError`, so the CLI can catch one type,
print its message and exit cleanly. Messages are written for the merchant: they name the store,
the file or the scope involved and say what to do. They never contain a secret: connectors build
them from the store label and the platform's error text, never from request headers.
"""

from __future__ import annotations

from typing import ClassVar


class WinbackError(Exception):
    """Root of everything winback raises on purpose."""

    transient: ClassVar[bool] = False
    """Whether the same run may succeed a few minutes later without anyone changing anything (an
    outage, a rate limit, a busy database). The workers retry only these: a wrong token, a missing
    scope or a bad config fails the same way on every attempt, so retrying only delays the report."""


# --- configuration -----------------------------------------------------------------------------


class ConfigError(WinbackError):
    """A config file is unreadable or invalid; names the file, line and key."""

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, key: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.key = key
        where = ""
        if path:
            where = path if line is None else f"{path}:{line}"
            if key:
                where += f": {key}"
            where += ": "
        elif key:
            where = f"{key}: "
        super().__init__(f"{where}{message}")


# --- talking to a platform ---------------------------------------------------------------------


class ConnectorError(WinbackError):
    """Something went wrong talking to a store's platform.

    ``store`` is a human label such as ``acme.myshopify.com`` or ``Ecwid store 1003``.
    """

    def __init__(self, message: str, *, store: str | None = None) -> None:
        self.store = store
        super().__init__(message)


class AuthenticationError(ConnectorError):
    """HTTP 401: the access token is wrong, revoked or expired."""


class MissingScopeError(ConnectorError):
    """HTTP 403 / ACCESS_DENIED: the token lacks a permission (scope)."""

    def __init__(self, message: str, *, store: str | None = None, scope: str | None = None) -> None:
        self.scope = scope
        super().__init__(message, store=store)


class StoreFrozenError(ConnectorError):
    """HTTP 402: the shop is frozen (unpaid plan) and its API refuses service."""


class StoreLockedError(ConnectorError):
    """HTTP 423: the shop is locked by the platform."""


class StoreNotFoundError(ConnectorError):
    """HTTP 404 on the store's base URL: the store id or domain is wrong or the store is gone."""


class RateLimitedError(ConnectorError):
    """The platform kept refusing us for rate or cost reasons after every retry."""

    transient = True


class PlatformUnavailableError(ConnectorError):
    """5xx, timeouts or dropped connections persisted after every retry."""

    transient = True


class UnexpectedResponseError(ConnectorError):
    """The platform answered with something we cannot read (malformed JSON, wrong shape)."""

    transient = True


class QueryError(ConnectorError):
    """A GraphQL request was rejected as a whole (top-level ``errors``) for a reason we cannot retry."""

    def __init__(self, message: str, *, store: str | None = None, code: str | None = None) -> None:
        self.code = code
        super().__init__(message, store=store)


class PlatformRejectedError(ConnectorError):
    """A write was refused by the platform (Shopify ``userErrors``, Ecwid 400/409)."""

    def __init__(
        self,
        message: str,
        *,
        store: str | None = None,
        code: str | None = None,
        field: str | None = None,
    ) -> None:
        self.code = code
        self.field = field
        super().__init__(message, store=store)


class DiscountCodeTakenError(PlatformRejectedError):
    """The discount code already exists on the platform."""


class CustomerExistsError(PlatformRejectedError):
    """A customer with that email already exists on the platform."""


class NotSupportedError(ConnectorError):
    """The platform or this store's setup cannot do what was asked (see connector capabilities)."""


class ConnectorNotFoundError(WinbackError):
    """No connector is registered under the ``winback.connectors`` entry-point group for a platform."""


# --- local layers ------------------------------------------------------------------------------


class SyncError(WinbackError):
    """The local store could not be read or written."""

    transient = True


class LocalStoreMissingError(SyncError):
    """A command that only reads (``plan``, ``status``, ``check``) found no local store yet; it
    does not create one as a side effect."""

    transient = False


class RuleError(WinbackError):
    """A rule is misconfigured or failed while planning."""


class NotifyError(WinbackError):
    """An email could not be rendered or sent."""


class TemplateLimitError(NotifyError):
    """An email template ran past its time or size limit (or asked for far too much): the run
    stops that client's emails once instead of spending the limit again on every customer."""


class UnsendableAddressError(NotifyError):
    """The recipient's address is one this sender can never deliver to (not ``local@domain``, or
    non-ASCII before the @ while the mail server does not offer SMTPUTF8): nothing was sent, and
    trying again will not help, so an action for it is skipped before anything is created."""


class EmailNotSentError(NotifyError):
    """The message certainly did not leave (no connection, login refused, sender or recipient
    refused before the data, outbox not writable), so trying again later cannot send it twice."""


class SenderUnavailableError(EmailNotSentError):
    """The sender can send nothing now (outbox not writable, SMTP server unreachable or login
    refused): every other email of the run would fail the same way, so the client's run stops
    once with this message and the unsent actions are tried again next run."""

    transient = True


# --- connecting a store (issue 10: Shopify auth modes) -------------------------------------------


class SettingValueError(ValueError):
    """Raised inside a settings model's validator to blame one key of ``[store]`` (``key``), so the
    config loader can name that key and its line instead of the whole table. A ``ValueError`` so
    pydantic reports it like any other invalid value."""

    def __init__(self, message: str, *, key: str) -> None:
        self.key = key
        super().__init__(message)


class TokenGrantError(AuthenticationError):
    """The platform refused to issue a token (client credentials or authorization code grant):
    the client id or secret is wrong, the app is not installed on the store, or the code is used."""


class OAuthCallbackError(WinbackError):
    """An install callback that must not be trusted (forged ``hmac``, unknown or reused ``state``,
    another shop, stale timestamp) or that reports a refusal; nothing was written."""


class CallbackTimeoutError(WinbackError):
    """No install callback arrived in time; nothing was written."""


# --- workers (winback.workers) -----------------------------------------------------------------


class DistributedStoreError(ConfigError):
    """A client whose store is SQLite was sent to the workers: refused, naming the client and file
    (runs on several machines need one shared PostgreSQL database for the ledger and the run lock)."""


class BrokerUnavailableError(WinbackError):
    """The workers' broker (RabbitMQ or Redis) did not answer; names it with its password masked."""


class ClientRunFailed(WinbackError):
    """A client's run on a worker ended with an error: retried with back-off, then reported."""
