"""The hooks a connector's tests fill in, and the plumbing every check calls the connector through."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar

import pytest

from winback.connectors.base import Connector, Page, Resource
from winback.errors import WinbackError
from winback.model import Customer, DiscountCode, DiscountCodeSpec, DiscountKind, NewCustomer
from winback.testing._checks import check_pages
from winback.testing._guard import Guard, secrets_in
from winback.testing._reads import BY_RESOURCE, Read, first_page, read_pages

T = TypeVar("T")
Write = Literal["discount_code", "customer"]
ConnectorOrAwaitable = Connector | Awaitable[Connector]

PLATFORM_CALLS = ("store_info", "check_access", *(r.value for r in Resource))
"""The calls that talk to the platform without changing anything."""


def skipped(value: object) -> bool:
    """A hook's "cannot do that here" answer."""
    return value is None or value is NotImplemented


async def resolved(value: T | Awaitable[T]) -> T:
    return await value if inspect.isawaitable(value) else value  # type: ignore[return-value]


class ContractHooks:
    """The hooks of :class:`~winback.testing.ConnectorContract` and the plumbing its checks use.

    :meth:`make_connector` is required. Start the platform the connector talks to (an emulator, a replay of
    recorded pages through ``transport=``, or in-memory data) in an autouse fixture of the subclass;
    hooks run after it, on the same instance, so they can use what it stored on ``self``.

    The optional hooks return ``None`` (or ``NotImplemented``) when the platform cannot do what they
    ask; the checks that need them are then skipped with a reason naming the hook. Each connector
    call runs under two rules checked everywhere: an exception is a
    :class:`~winback.errors.WinbackError`, and its message holds no secret.

    Class attributes bound the reads: ``max_pages``, ``read_timeout_s`` (per read), ``call_timeout_s``
    (per other call) and ``cursor_samples`` (how many cursors of a read are read again).
    """

    max_pages: ClassVar[int] = 1000
    read_timeout_s: ClassVar[float] = 120.0
    call_timeout_s: ClassVar[float] = 60.0
    cursor_samples: ClassVar[int] = 4
    known_failures: ClassVar[Mapping[str, str]] = {}
    """Test names, with their parameter (``"test_bad_credentials_raise_authentication_error[check_access]"``),
    that fail for a known reason: they run as strict xfails, so fixing the bug turns them into failures
    until the entry is removed."""

    @pytest.fixture(autouse=True)
    def _contract_known_failures(self, request: pytest.FixtureRequest) -> None:
        reason = self.known_failures.get(request.node.name)
        if reason:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))

    # --- hooks -------------------------------------------------------------------------------

    def make_connector(self) -> ConnectorOrAwaitable:
        """A new connector to the platform under test, not yet entered (the kit uses ``async with``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_connector()")

    def connector_with_bad_credentials(self) -> ConnectorOrAwaitable | None:
        """A connector to the same platform whose token (key, password) is wrong; ``None``: no credentials."""
        return None

    def connector_for_unreachable_platform(self) -> ConnectorOrAwaitable | None:
        """A connector whose platform does not answer (e.g. a closed local port); ``None``: skip."""
        return None

    def corrupt_one_record(self, resource: Resource, record_ids: Sequence[str]) -> str | Awaitable[str | None] | None:
        """Make one record of ``resource`` malformed on the platform, so that the connector cannot
        translate it, and return its id as :class:`RejectedRecord.record_id` will give it.

        ``record_ids`` are the ids the connector read a moment ago, in order; pick one of them.
        ``None``: this platform's data cannot be made malformed for that resource.
        """
        return None

    def secrets(self) -> Iterable[str]:
        """Values that must never appear in logs or error messages, besides the ``SecretStr`` values
        found in the settings models of the connectors the hooks build."""
        return ()

    def discount_code_spec(self) -> DiscountCodeSpec | None:
        """The discount code the write checks create (a new code each call); ``None``: skip them."""
        return DiscountCodeSpec(
            code=f"WBCONTRACT-{uuid.uuid4().hex[:8].upper()}",
            title="winback contract check",
            kind=DiscountKind.PERCENTAGE,
            value=Decimal(10),
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        )

    def new_customer(self) -> NewCustomer | None:
        """The customer the write checks create (a new email each call); ``None``: skip them."""
        return NewCustomer(
            email=f"winback.contract.{uuid.uuid4().hex[:8]}@example.com", first_name="Contract", last_name="Check"
        )

    def interrupt_next_write(self, what: Write) -> bool | Awaitable[bool | None] | None:
        """Make the platform apply the next create of ``what`` but lose its answer (drop the
        connection after the write); return true if arranged. ``None``: skip."""
        return None

    def count_created(self, what: Write, key: str) -> int | Awaitable[int | None] | None:
        """How many discount codes with code ``key`` (or customers with email ``key``) the platform
        created during this test; ``None``: the platform cannot tell, the count is not checked."""
        return None

    # --- plumbing ----------------------------------------------------------------------------

    @property
    def guard(self) -> Guard:
        guard = self.__dict__.get("_contract_guard")
        if guard is None:
            guard = self.__dict__["_contract_guard"] = Guard(self.secrets())
        return guard

    async def _built(self, hook: Callable[[], ConnectorOrAwaitable | None]) -> Connector | None:
        connector = await resolved(hook())
        if skipped(connector):
            return None
        assert isinstance(connector, Connector), (
            f"{hook.__name__}() returned a {type(connector).__name__}, not a winback.connectors.base.Connector"
        )
        self.guard.add(secrets_in(connector))
        return connector

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[Connector]:
        """A new connector from :meth:`make_connector`, entered and closed afterwards."""
        connector = await self._built(self.make_connector)
        assert connector is not None, "make_connector() returned None"
        async with connector:
            yield connector

    async def call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one connector call under the guard and :attr:`call_timeout_s`."""
        try:
            async with asyncio.timeout(self.call_timeout_s):
                with self.guard.calling(what):
                    return await call()
        except TimeoutError:
            pytest.fail(f"{what} did not return within {self.call_timeout_s:g} s", pytrace=False)

    async def expect_error(
        self, what: str, call: Callable[[], Awaitable[Any]], expected: type[WinbackError]
    ) -> WinbackError:
        """Run ``call`` and return the ``expected`` error it must raise."""
        try:
            await self.call(what, call)
        except expected as exc:
            return exc
        except WinbackError as exc:
            pytest.fail(f"{what} raised {type(exc).__name__} ({exc}); expected {expected.__name__}", pytrace=False)
        pytest.fail(f"{what} succeeded; expected {expected.__name__}", pytrace=False)

    async def read(self, connector: Connector, read: Read, updated_since: datetime | None = None) -> list[Page[Any]]:
        """Every page of ``read``, bounded by :attr:`max_pages` and :attr:`read_timeout_s`, checked."""
        pages = await read_pages(
            lambda: read.pages(connector, updated_since),
            what=read.call(updated_since),
            guard=self.guard,
            max_pages=self.max_pages,
            timeout_s=self.read_timeout_s,
        )
        check_pages(read, pages, platform=connector.platform, store_id=connector.store_id)
        return pages

    @staticmethod
    def _platform_call(connector: Connector, name: str) -> tuple[str, Callable[[], Awaitable[Any]]]:
        """One of :data:`PLATFORM_CALLS` on ``connector``; a read is called for its first page."""
        if name == "store_info":
            return "store_info()", connector.store_info
        if name == "check_access":
            return "check_access()", connector.check_access
        read = BY_RESOURCE[Resource(name)]
        return f"the first page of {read.call()}", lambda: first_page(lambda: read.pages(connector))

    async def _spec(self, what: Write) -> DiscountCodeSpec | NewCustomer:
        hook = self.discount_code_spec if what == "discount_code" else self.new_customer
        spec = await resolved(hook())
        if skipped(spec):
            pytest.skip(f"{type(self).__name__}.{hook.__name__}() returned None: {what} writes are not checked")
        return spec

    async def _find(self, connector: Connector, spec: DiscountCodeSpec | NewCustomer) -> DiscountCode | Customer | None:
        if isinstance(spec, DiscountCodeSpec):
            code = spec.code
            return await self.call(f"find_discount_code({code!r})", lambda: connector.find_discount_code(code))
        email = spec.email
        return await self.call(f"find_customer_by_email({email!r})", lambda: connector.find_customer_by_email(email))

    @staticmethod
    def _create(
        connector: Connector, spec: DiscountCodeSpec | NewCustomer
    ) -> tuple[str, Callable[[], Awaitable[Any]]]:
        if isinstance(spec, DiscountCodeSpec):
            return f"create_discount_code({spec.code!r})", lambda: connector.create_discount_code(spec)
        return f"create_customer({spec.email!r})", lambda: connector.create_customer(spec)

    async def _check_count(self, what: Write, key: str) -> None:
        count = await resolved(self.count_created(what, key))
        if not skipped(count):
            assert count == 1, (
                f"the platform holds {count} {what} writes for {key!r} after this test; at most once means 1"
            )

    async def _writes_supported(self, connector: Connector, what: Write) -> None:
        if what == "discount_code":
            capabilities = await self.call("capabilities()", connector.capabilities)
            if not capabilities.discount_codes:
                pytest.skip("capabilities().discount_codes is false: discount code writes are not checked")

    @staticmethod
    def _check_created(what: Write, spec: DiscountCodeSpec | NewCustomer, created: Any) -> None:
        if isinstance(spec, DiscountCodeSpec):
            assert isinstance(created, DiscountCode) and created.code.upper() == spec.code.upper(), (
                f"create_discount_code({spec.code!r}) returned {created!r}"
            )
        else:
            assert isinstance(created, Customer) and (created.email or "").lower() == spec.email.lower(), (
                f"create_customer({spec.email!r}) returned {created!r}"
            )
