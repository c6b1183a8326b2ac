"""The connector contract as a pytest base class: subclass it as ``Test…`` and fill in the hooks."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

from winback.connectors.base import Resource
from winback.errors import (
    AuthenticationError,
    CustomerExistsError,
    DiscountCodeTakenError,
    PlatformUnavailableError,
    WinbackError,
)
from winback.model import DiscountCodeSpec
from winback.testing._checks import check_cursors, check_rerun, records_of, rejected_of, sample_cursors
from winback.testing._guard import MIN_SECRET_LENGTH, log_texts, shown
from winback.testing._hooks import PLATFORM_CALLS, ContractHooks, Write, resolved, skipped
from winback.testing._reads import BY_RESOURCE, CURSOR_READS, ORDERS, READS, Read

_LOGGERS = ("winback", "httpx", "httpcore")


class ConnectorContract(ContractHooks):
    """What winback relies on from every connector, as tests a connector's own test suite inherits.

    Subclass it in a module pytest collects, with a name starting with ``Test``, and implement
    :meth:`~ContractHooks.make_connector`; the other hooks are optional (see :class:`ContractHooks`).
    """

    # --- reads -------------------------------------------------------------------------------

    @pytest.mark.parametrize("read", READS, ids=[r.name for r in READS])
    async def test_a_read_ends_in_pages_of_model_records(self, read: Read) -> None:
        async with self.connected() as connector:
            pages = await self.read(connector, read)
        assert records_of(pages), (
            f"{read.call()} returned no records: the kit needs a platform with some {read.resource.value} to "
            f"check anything (seed the emulator or the recorded pages)"
        )

    @pytest.mark.parametrize("read", CURSOR_READS, ids=[r.name for r in CURSOR_READS])
    async def test_cursors_only_move_forward(self, read: Read) -> None:
        async with self.connected() as connector:
            pages = await self.read(connector, read)
        check_cursors(read, pages)

    @pytest.mark.parametrize("read", CURSOR_READS, ids=[r.name for r in CURSOR_READS])
    async def test_a_rerun_from_a_cursor_loses_nothing(self, read: Read) -> None:
        async with self.connected() as connector:
            pages = await self.read(connector, read)
            cursors = sample_cursors(pages, self.cursor_samples)
            assert cursors, f"{read.call()} gave no page a cursor (newest_updated_at or records with updated_at)"
            incremental = ORDERS if read.full else read
            for number, cursor in cursors:
                again = await self.read(connector, incremental, cursor)
                check_rerun(incremental, pages, number, cursor, again)

    @pytest.mark.parametrize("resource", list(Resource), ids=[r.value for r in Resource])
    async def test_a_malformed_record_arrives_rejected_with_its_payload(self, resource: Resource) -> None:
        read = BY_RESOURCE[resource]
        async with self.connected() as connector:
            before = await self.read(connector, read)
        ids_before = [r.id for r in records_of(before)]
        bad = await resolved(self.corrupt_one_record(resource, ids_before))
        if skipped(bad):
            pytest.skip(f"{type(self).__name__}.corrupt_one_record({resource.value!r}) returned None")
        async with self.connected() as connector:
            after = await self.read(connector, read)
        call = read.call()
        rejected = [r for r in rejected_of(after) if r.record_id == bad]
        ids_after = {r.id for r in records_of(after)}
        assert bad not in ids_after, f"{call} translated the malformed record {bad} instead of rejecting it"
        assert len(rejected) == 1, (
            f"{call} should reject the malformed record {bad} once, in Page.rejected; it rejected it "
            f"{len(rejected)} times (rejected ids: {[r.record_id for r in rejected_of(after)][:10]})"
        )
        assert isinstance(rejected[0].raw, Mapping) and rejected[0].raw, (
            f"{call}: the rejected record {bad} must carry the platform's raw payload, for quarantine"
        )
        assert bad in str(dict(rejected[0].raw)), (
            f"{call}: the raw payload of rejected record {bad} is not that record's"
        )
        assert isinstance(rejected[0].reason, str) and rejected[0].reason.strip(), (
            f"{call}: the rejected record {bad} must say why it could not be translated"
        )
        lost = sorted(set(ids_before) - {bad} - ids_after)
        assert not lost, f"{call} lost {len(lost)} good records along with the malformed one, e.g. {lost[:5]}"

    # --- errors and secrets ------------------------------------------------------------------

    @pytest.mark.parametrize("name", PLATFORM_CALLS)
    async def test_bad_credentials_raise_authentication_error(self, name: str) -> None:
        connector = await self._built(self.connector_with_bad_credentials)
        if connector is None:
            pytest.skip(f"{type(self).__name__}.connector_with_bad_credentials() returned None")
        async with connector:
            what, call = self._platform_call(connector, name)
            error = await self.expect_error(f"{what} with bad credentials", call, AuthenticationError)
        assert connector.store_label in str(error), (
            f"{what} with bad credentials: the message should name the store ({connector.store_label}) "
            f"so a merchant with many stores knows which token to replace; it says: {error}"
        )

    @pytest.mark.parametrize("name", PLATFORM_CALLS)
    async def test_an_unreachable_platform_raises_platform_unavailable(self, name: str) -> None:
        connector = await self._built(self.connector_for_unreachable_platform)
        if connector is None:
            pytest.skip(f"{type(self).__name__}.connector_for_unreachable_platform() returned None")
        async with connector:
            what, call = self._platform_call(connector, name)
            await self.expect_error(f"{what} while the platform is unreachable", call, PlatformUnavailableError)

    async def test_no_secret_reaches_logs_or_errors(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        for name in _LOGGERS:
            caplog.set_level(logging.DEBUG, logger=name)
        async with self.connected() as connector:
            for name in PLATFORM_CALLS:
                await self.call(*self._platform_call(connector, name))
            await self.call("capabilities()", connector.capabilities)
            for read in READS:
                await self.read(connector, read)
            for what in ("discount_code", "customer"):
                spec = await resolved(self.discount_code_spec() if what == "discount_code" else self.new_customer())
                if not skipped(spec):
                    await self._find(connector, spec)
                    try:
                        await self.call(*self._create(connector, spec))
                    except WinbackError:
                        pass  # e.g. NotSupportedError; the guard has checked its message
        for hook in (self.connector_with_bad_credentials, self.connector_for_unreachable_platform):
            failing = await self._built(hook)
            if failing is not None:
                async with failing:
                    try:
                        await self.call(f"store_info() of {hook.__name__}()", failing.store_info)
                    except WinbackError:
                        pass  # the guard has checked its message
        if not self.guard.secrets:
            pytest.skip(
                f"no secrets to look for: {type(self).__name__}.secrets() is empty and the connectors' settings "
                f"hold no SecretStr of {MIN_SECRET_LENGTH} characters or more"
            )
        leaks = [
            f"{record.name} {record.levelname}: {text[:200]!r} contains {', '.join(map(shown, found))}"
            for record, text in log_texts(caplog.records)
            if (found := self.guard.leaked(text))
        ]
        for secret in self.guard.leaked(caplog.text):
            leaks.append(f"the formatted log contains {shown(secret)}")
        assert not leaks, "secrets reached the log (mask them, or never log them):\n" + "\n".join(leaks[:10])

    # --- writes ------------------------------------------------------------------------------

    @pytest.mark.parametrize("what", ["discount_code", "customer"])
    async def test_a_write_is_applied_at_most_once(self, what: Write) -> None:
        spec = await self._spec(what)
        taken = DiscountCodeTakenError if what == "discount_code" else CustomerExistsError
        async with self.connected() as connector:
            await self._writes_supported(connector, what)
            assert await self._find(connector, spec) is None, f"the {what} was found before it was created"
            name, create = self._create(connector, spec)
            created = await self.call(name, create)
            self._check_created(what, spec, created)
            await self.expect_error(f"{name} again", create, taken)
            found = await self._find(connector, spec)
            assert found is not None and found.id == created.id, (
                f"after creating {what} {created.id} and a refused second create, the lookup found "
                f"{None if found is None else found.id}; it must find the one that was created"
            )
        await self._check_count(what, spec.code if isinstance(spec, DiscountCodeSpec) else spec.email)

    @pytest.mark.parametrize("what", ["discount_code", "customer"])
    async def test_a_write_whose_answer_was_lost_is_applied_once(self, what: Write) -> None:
        spec = await self._spec(what)
        taken = DiscountCodeTakenError if what == "discount_code" else CustomerExistsError
        async with self.connected() as connector:
            await self._writes_supported(connector, what)
            assert await self._find(connector, spec) is None, f"the {what} was found before it was created"
            if not await resolved(self.interrupt_next_write(what)):
                pytest.skip(f"{type(self).__name__}.interrupt_next_write({what!r}) did not arrange a lost answer")
            name, create = self._create(connector, spec)
            try:
                created = await self.call(f"{name} whose answer is lost", create)
            except WinbackError:
                created = None  # allowed: the caller looks up before trying again
            found = await self._find(connector, spec)
            assert found is not None, f"the platform applied the {what} write but the lookup does not find it"
            if created is not None:
                self._check_created(what, spec, created)
                assert found.id == created.id, (
                    f"{name} returned {created.id} after a lost answer, but the platform holds {found.id}"
                )
            await self.expect_error(f"{name} again", create, taken)
        await self._check_count(what, spec.code if isinstance(spec, DiscountCodeSpec) else spec.email)
