"""Pushing the consent queue when the credentials cannot reach customers (real SQLite)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.unit.rules_fakes import KEY, NOW, FakeConnector, seeded_store
from winback.connectors.base import ConsentWrite
from winback.errors import MissingScopeError
from winback.rules.consent import ConsentQueue, push_pending


class NoCustomersScope(FakeConnector):
    """An Ecwid default token: finding the customer behind an email is refused (403)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def set_email_marketing(self, email: str, subscribed: bool) -> ConsentWrite:
        self.calls += 1
        raise MissingScopeError("the token cannot read customers: add read_customers", store="fake")


def test_a_missing_scope_ends_the_change_as_unreachable_instead_of_retrying(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Review item 9: MissingScopeError is not transient; the change must not go back to pending
    (retried forever); it ends like an unsupported write, and the remedy is logged once."""
    store = seeded_store(tmp_path / "c.db", [])
    try:
        queue = ConsentQueue(store)
        queue.unsubscribe(KEY, "a@example.com", "link", NOW)
        queue.unsubscribe(KEY, "b@example.com", "link", NOW)
        connector = NoCustomersScope()
        with caplog.at_level(logging.WARNING, logger="winback.rules.consent"):
            report = asyncio.run(push_pending(store, KEY, connector))
        assert queue.pending_count(KEY) == 0
        assert report.unreachable == 2 and report.failed == 0
        assert [(c["status"], c["result"]) for c in queue.history(KEY)] == [("done", "unreachable")] * 2
        assert sum("add read_customers" in r.getMessage() for r in caplog.records) == 1
        again = asyncio.run(push_pending(store, KEY, connector))
        assert connector.calls == 2 and again.unreachable == 0
    finally:
        store.close()
