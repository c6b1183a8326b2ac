"""The connector protocol: what every platform adapter offers to the layers above.

A connector translates one platform's API into :mod:`winback.model`; it does not decide anything.
Reads are async streams of :class:`Page` objects so the sync engine can commit a page together
with its cursor and never hold a whole store in memory. A record the connector cannot translate is
not an exception: it travels in ``Page.rejected`` with its raw payload so the sync engine can
quarantine it and go on.

Writes are not retried blindly: callers that need "at most once" look up first
(``find_discount_code``, ``find_customer_by_email``) and connectors never re-send a
non-idempotent request after an ambiguous failure (see :mod:`winback.connectors.http`).
"""

from __future__ import annotations

import abc
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

import httpx
from pydantic import BaseModel

from winback.connectors.pages import Deletion, DeletionPage, Page, RejectedRecord, Resource
from winback.connectors.secret_store import SecretStore
from winback.model import Customer, DiscountCode, DiscountCodeSpec, NewCustomer, Order, Product, Store

__all__ = [
    "AccessReport", "AuthChoice", "Capabilities", "ConsentWrite", "Connector", "ConnectorProfile", "Deletion",
    "DeletionPage", "InviteMode", "Need", "Page", "RejectedRecord", "Resource", "TierWrite",
]

class Need(StrEnum):
    """What a rule or a resource needs from the platform, in words that hold on every platform.

    A connector maps each to its own permission (an Ecwid scope, a Shopify scope) and says in
    :attr:`Capabilities.unreachable` which it cannot reach; rules declare theirs in ``Rule.needs``.
    """

    READ_ORDERS = "read orders"
    READ_PRODUCTS = "read products"
    READ_CUSTOMERS = "read customers"
    READ_DISCOUNT_CODES = "read discount codes"
    CREATE_DISCOUNT_CODES = "create discount codes"
    CREATE_CUSTOMERS = "create customers"
    UPDATE_CUSTOMERS = "update customers"
    """Change an existing customer record (a tier tag on Shopify, a customer group on Ecwid)."""


RESOURCE_NEEDS: Mapping[Resource, Need] = {
    Resource.CUSTOMERS: Need.READ_CUSTOMERS,
    Resource.ORDERS: Need.READ_ORDERS,
    Resource.PRODUCTS: Need.READ_PRODUCTS,
}


class InviteMode(StrEnum):
    """How a guest buyer gets an account on this store."""

    CREATE_CUSTOMER = "create_customer"
    """The platform keeps no account for guest buyers: create the customer record (sign-in by
    emailed link)."""
    SEND_INVITE = "send_invite"
    """Shopify legacy (classic) accounts: the DISABLED customer exists; send the account invite."""
    NOT_NEEDED = "not_needed"
    """The platform keeps an account for every buyer's email and signs them in with a one-time
    code or link (Shopify customer accounts, Ecwid): nothing to create or invite."""


class ConsentWrite(StrEnum):
    """What :meth:`Connector.set_email_marketing` did."""

    WRITTEN = "written"
    """The platform said otherwise and was changed."""
    ALREADY = "already"
    """The platform already said so: nothing written."""
    NO_CUSTOMER = "no_customer"
    """The platform holds no customer with that email: nothing to change (the local list holds)."""


class TierWrite(StrEnum):
    """What :meth:`Connector.set_customer_tier` did."""

    WRITTEN = "written"
    """The platform showed another tier (or none) and was changed."""
    ALREADY = "already"
    """The platform already showed exactly that tier: nothing written."""
    NO_CUSTOMER = "no_customer"
    """The platform holds no such customer (deleted since the sync): nothing to change."""
    KEPT = "kept"
    """The customer is in something the merchant set by hand that the tier would overwrite (an
    Ecwid customer group that is not a tier): left alone."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What this connector can do for this store; rules consult it instead of guessing."""

    invite_mode: InviteMode
    discount_codes: bool = True
    customer_locked_codes: bool = False
    """Codes can be restricted to one customer on the platform itself."""
    bulk_export: bool = False
    unreachable: Mapping[str, str] = field(default_factory=dict)
    """:class:`Need` values the credentials cannot reach, each with why and the remedy (a rule
    needing one is held in ``plan`` with that text instead of failing at its first write)."""


@dataclass(frozen=True, slots=True)
class AccessReport:
    """Which permissions the credentials have, for ``winback check``."""

    granted: frozenset[str]
    required: frozenset[str]
    unknown: frozenset[str] = frozenset()
    """Required scopes that cannot be found out without writing (Ecwid's create scopes), unless a
    write was already refused."""

    @property
    def missing(self) -> frozenset[str]:
        return self.required - self.granted - self.unknown


@dataclass(frozen=True, slots=True)
class AuthChoice:
    """One way a merchant may hold credentials for the platform, as ``winback init --auth`` offers it."""

    name: str
    """The ``--auth`` value, e.g. ``client-credentials``."""
    question: str
    """How ``init`` describes it when asking which one the merchant has."""
    store_lines: tuple[str, ...] = ()
    """``[store]`` lines in place of the credential line; ``{client_id}``, ``{secret_env}`` and
    ``{token_env}`` are filled in. Empty: the profile's usual credential line."""
    needs_client_id: bool = False
    exports: tuple[str, ...] = ("token_env",)
    """Which variables the merchant exports before running winback: ``token_env``, ``secret_env``."""
    secrets_file: bool = False
    """``init`` names a secrets file and creates it empty (mode 0600): a command writes into it later."""
    next_step: str = "winback check --config {config}"


@dataclass(frozen=True, slots=True)
class ConnectorProfile:
    """What a platform's connector tells the rest of winback about the platform itself.

    ``winback init`` writes the ``[store]`` table from it, ``winback check`` names the missing
    scopes and their remedy from it, labels and store keys come from it without a network call, and
    ``winback plan --no-connect`` plans with its usual invite mode. A plugin fills one in and gets
    the whole product; nothing outside its package names the platform.
    """

    display_name: str
    """``Shopify``, ``Ecwid``: used in labels and messages."""
    store_setting: str
    """The ``[store]`` key that names the store (``shop``, ``store_id``)."""
    store_prompt: str
    """How ``winback init`` asks for that value, e.g. ``Shop domain (acme.myshopify.com)``."""
    store_comment: str
    """The comment beside that key in a starter config."""
    credential_setting: str
    """The ``[store]`` key of the secret credential (``access_token``, ``token``)."""
    credential_comment: str
    scopes: Mapping[str, str] = field(default_factory=dict)
    """Every permission winback may need, with why (shown when it is missing)."""
    scope_remedy: str = "grant the {scope} permission to the credentials of {store}: {reason}"
    """How to grant a missing scope on this platform; ``{scope}``, ``{reason}``, ``{store}``."""
    offline_invite_mode: InviteMode = InviteMode.CREATE_CUSTOMER
    """The platform's usual account mode, for planning without a connection."""
    config_notes: tuple[str, ...] = ()
    """Comment lines a starter config shows under the credential (scopes to grant, versions)."""
    config_stem: str = "{platform}-{handle}"
    """``winback init``'s default file name (without ``.toml``); ``{platform}``, ``{handle}``
    (the store's first name part, e.g. ``acme`` of ``acme.myshopify.com``)."""
    token_env: str = "{PLATFORM}_{HANDLE}_TOKEN"
    auth_choices: tuple[AuthChoice, ...] = ()
    """Ways to authenticate ``winback init`` asks about (the first is the default off a terminal);
    empty: only the credential setting."""
    """``winback init``'s default variable for the credential; upper-case fields upper-cased."""

    def defaults_for(self, platform: str, store: str) -> tuple[str, str]:
        """(config file stem, credential variable) that ``winback init`` proposes for ``store``."""
        handle = re.sub(r"[^A-Za-z0-9]+", "-", store.split(".", 1)[0]).strip("-").lower() or platform
        fields = {"platform": platform, "handle": handle, "PLATFORM": platform.upper(),
                  "HANDLE": handle.upper().replace("-", "_")}
        return self.config_stem.format(**fields), re.sub(r"[^A-Z0-9_]", "_", self.token_env.format(**fields))

    def scope_fix(self, scope: str, store: str) -> str:
        reason = self.scopes.get(scope, "winback needs it")
        return self.scope_remedy.format(scope=scope, reason=reason, store=store)


async def _no_deletions() -> AsyncIterator[DeletionPage]:
    return
    yield  # pragma: no cover - makes this an async generator


class Connector(abc.ABC):
    """Base class of every connector. Use as an async context manager: one HTTP client per store."""

    platform: ClassVar[str]
    settings_model: ClassVar[type[BaseModel]]
    profile: ClassVar[ConnectorProfile]
    """What the rest of winback needs to know about the platform (see :class:`ConnectorProfile`)."""

    @classmethod
    def settings_of(cls, settings: BaseModel | Mapping[str, Any]) -> BaseModel:
        """``settings`` validated into :attr:`settings_model` (a model of it is returned as is)."""
        if isinstance(settings, cls.settings_model):
            return settings
        raw = settings.model_dump() if isinstance(settings, BaseModel) else dict(settings)
        return cls.settings_model.model_validate(raw)

    @classmethod
    def store_id_of(cls, settings: BaseModel | Mapping[str, Any]) -> str:
        """The store's id from its settings alone (no request): by default the value of
        :attr:`ConnectorProfile.store_setting`. Override when the platform derives it."""
        return str(getattr(cls.settings_of(settings), cls.profile.store_setting))

    @classmethod
    def label_of(cls, settings: BaseModel | Mapping[str, Any]) -> str:
        """A human name for the store from its settings alone, e.g. ``Ecwid store 1003``."""
        return f"{cls.profile.display_name} store {cls.store_id_of(settings)}"

    @classmethod
    def offline_capabilities(cls) -> Capabilities:
        """What planning without a connection assumes (``winback plan --no-connect``, previews):
        the platform's usual account mode from :attr:`profile`. Override where a platform's
        usual capabilities differ from :class:`Capabilities`' defaults."""
        return Capabilities(invite_mode=cls.profile.offline_invite_mode)

    @classmethod
    def normalise_store(cls, value: str) -> str:
        """The ``store_setting`` value as the platform spells it; :class:`ValueError` saying what
        is expected when ``value`` cannot be one (``winback init`` asks again)."""
        value = value.strip()
        if not value:
            raise ValueError(f"give the {cls.profile.display_name} {cls.profile.store_setting}")
        return value

    @classmethod
    @abc.abstractmethod
    def from_settings(
        cls,
        settings: BaseModel | Mapping[str, Any],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        secret_store: SecretStore | None = None,
    ) -> Self:
        """Build a connector from its settings model (or a mapping validated into it).

        ``secret_store`` is where credentials that rotate are saved before use (the client's
        secrets file, given by the config layer); a connector whose credentials never change
        ignores it.
        """

    @property
    @abc.abstractmethod
    def store_label(self) -> str:
        """A human name for the store used in messages, e.g. ``acme.myshopify.com``
        (the same as :meth:`label_of` its settings)."""

    @property
    @abc.abstractmethod
    def store_id(self) -> str:
        """The id recorded on every record of this store (the same as :meth:`store_id_of`)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    def describe_auth(self) -> str | None:
        """How this connector authenticates, for ``winback check`` (e.g. the auth mode and how long
        the current token lives); ``None``: nothing worth saying. Never includes a secret."""
        return None

    # --- description -------------------------------------------------------------------------

    @abc.abstractmethod
    async def store_info(self) -> Store: ...

    @abc.abstractmethod
    async def capabilities(self) -> Capabilities: ...

    @abc.abstractmethod
    async def check_access(self) -> AccessReport: ...

    # --- reads -------------------------------------------------------------------------------

    @abc.abstractmethod
    def customers(self, updated_since: datetime | None = None) -> AsyncIterator[Page[Customer]]:
        """Customers updated at or after ``updated_since`` (all when ``None``), oldest first."""

    @abc.abstractmethod
    def orders(
        self, updated_since: datetime | None = None, *, full: bool = False
    ) -> AsyncIterator[Page[Order]]:
        """Orders updated at or after ``updated_since``, oldest first.

        ``full=True`` tells the connector this is a first full read, so it may use a bulk export
        where the platform has one.
        """

    @abc.abstractmethod
    def products(self) -> AsyncIterator[Page[Product]]: ...

    def deletions(self, resource: Resource, deleted_since: datetime | None = None) -> AsyncIterator[DeletionPage]:
        """Records of ``resource`` deleted on the platform at or after ``deleted_since`` (all the
        platform still lists when ``None``), oldest first, in pages.

        The default lists nothing: a platform without a deletion feed keeps deleted records until
        the merchant resyncs into a fresh database. A connector that reads one overrides this and
        names the covered resources in :attr:`deletion_resources`.
        """
        return _no_deletions()

    deletion_resources: ClassVar[frozenset[Resource]] = frozenset()
    """The resources whose deletions :meth:`deletions` reports."""

    # --- writes ------------------------------------------------------------------------------

    @abc.abstractmethod
    async def find_discount_code(self, code: str) -> DiscountCode | None:
        """The code with that string (as the checkout compares codes), with all the platform tells
        of it: kind, value, usage limit, customer restriction, start and end. Winback adopts an
        existing code only when :meth:`DiscountCode.matches` shows it is the one it meant, so a
        field left out makes winback's own codes look foreign."""

    @abc.abstractmethod
    async def create_discount_code(self, spec: DiscountCodeSpec) -> DiscountCode:
        """Create the code; raises :class:`~winback.errors.DiscountCodeTakenError` if it exists."""

    @abc.abstractmethod
    async def find_customer_by_email(self, email: str) -> Customer | None: ...

    @abc.abstractmethod
    async def create_customer(self, spec: NewCustomer) -> Customer:
        """Create a customer; raises :class:`~winback.errors.CustomerExistsError` if taken."""

    @abc.abstractmethod
    async def send_account_invite(self, customer_id: str) -> None:
        """Ask the platform to email an account invite; :class:`NotSupportedError` if it cannot."""

    async def set_email_marketing(self, email: str, subscribed: bool) -> ConsentWrite:
        """Make the platform's own email-marketing consent of ``email`` say ``subscribed``.

        Reads first and writes only when the platform says otherwise, so a push repeated after a
        crash (the write made, its result never recorded) writes nothing the second time. A
        platform without such a write raises :class:`~winback.errors.NotSupportedError`.
        """
        from winback.errors import NotSupportedError

        raise NotSupportedError(f"{type(self).__name__} cannot change a customer's marketing consent")

    async def set_customer_tier(self, customer_id: str, tier: str | None, tiers: Sequence[str]) -> TierWrite:
        """Make the platform show ``tier`` (one of ``tiers``, the labels of every tier of the rule;
        ``None``: no tier) on customer ``customer_id``, where the merchant can use it (segments,
        prices, their own emails).

        Reads first and writes only what differs, removing any other label of ``tiers`` and nothing
        else, so a write repeated after a crash changes nothing the second time. A platform without
        such a record raises :class:`~winback.errors.NotSupportedError`.
        """
        from winback.errors import NotSupportedError

        raise NotSupportedError(f"{type(self).__name__} cannot record a customer's tier on the platform")
