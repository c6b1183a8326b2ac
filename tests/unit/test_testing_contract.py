"""``winback.testing`` catches what it promises to catch: connectors broken on purpose fail the
check named for their fault, with a message that says what went wrong, and a sound one passes.

The broken connectors are Hello Shop (``examples/winback-hello``) with one method spoiled each; the
kit runs on them in a pytest session of its own (``pytester``).
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]

try:
    import winback_hello  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    if os.environ.get("CI"):
        raise
    pytest.skip(
        f"the example plugin winback-hello is not installed ({exc}); run `make install`", allow_module_level=True
    )

PLUGIN_TESTS = '''
import copy
import logging
from datetime import datetime, timedelta

import pytest
from winback_hello import SAMPLE, HelloConnector, HelloSettings

from winback.connectors.base import Page, Resource
from winback.testing import ConnectorContract

SECRET = "hello_key_0123456789"


class Base(ConnectorContract):
    connector_class = HelloConnector

    @pytest.fixture(autouse=True)
    def hello_shop(self):
        self.data = copy.deepcopy(SAMPLE)

    def make_connector(self):
        return self.connector_class(HelloSettings(greeting_store="Kit Shop", page_size=1), data=self.data)

    def secrets(self):
        return [SECRET]

    def corrupt_one_record(self, resource, record_ids):
        victim = record_ids[0]
        field = {Resource.CUSTOMERS: "updatedAt", Resource.ORDERS: "total", Resource.PRODUCTS: "price"}[resource]
        for raw in self.data[resource.value]:
            if str(raw["id"]) == victim:
                raw[field] = "garbage"
        return victim


class TestSound(Base):
    pass


class NewestFirst(HelloConnector):
    async def customers(self, updated_since=None):
        pages = [page async for page in super().customers(updated_since)]
        for page in reversed(pages):
            yield page


class TestNewestFirst(Base):
    connector_class = NewestFirst


class Exclusive(HelloConnector):
    def customers(self, updated_since=None):
        since = None if updated_since is None else updated_since + timedelta(seconds=1)
        return super().customers(since)


class TestExclusive(Base):
    connector_class = Exclusive


class Endless(HelloConnector):
    async def products(self):
        async for page in super().products():
            while True:
                yield page


class TestEndless(Base):
    connector_class = Endless
    max_pages = 5


class Raises(HelloConnector):
    def _order(self, raw):
        if raw.get("total") == "garbage":
            raise RuntimeError("cannot read total")
        return super()._order(raw)


class TestRaises(Base):
    connector_class = Raises


class Leaky(HelloConnector):
    async def store_info(self):
        logging.getLogger("winback.kit").debug("using key %s", SECRET)
        return await super().store_info()


class TestLeaky(Base):
    connector_class = Leaky


class Twice(HelloConnector):
    async def create_discount_code(self, spec):
        self._codes.pop(spec.code.upper(), None)
        return await super().create_discount_code(spec)


class TestTwice(Base):
    connector_class = Twice


class TestKnownFailure(Base):
    connector_class = Twice
    known_failures = {"test_a_write_is_applied_at_most_once[discount_code]": "creates twice"}


class TestFixedKnownFailure(Base):
    known_failures = {"test_a_write_is_applied_at_most_once[discount_code]": "was a bug once"}
'''

EXPECTED_FAILURES = {
    "TestNewestFirst::test_cursors_only_move_forward[customers]": "pages must come oldest first",
    "TestNewestFirst::test_a_rerun_from_a_cursor_loses_nothing[customers]": "lost",
    "TestExclusive::test_a_rerun_from_a_cursor_loses_nothing[customers]": "a sync resumed from that cursor",
    "TestEndless::test_a_read_ends_in_pages_of_model_records[products]": "products() did not end after 5 pages",
    "TestEndless::test_a_malformed_record_arrives_rejected_with_its_payload[products]": "did not end",
    "TestEndless::test_no_secret_reaches_logs_or_errors": "did not end",
    "TestRaises::test_a_malformed_record_arrives_rejected_with_its_payload[orders]": "orders() raised RuntimeError",
    "TestLeaky::test_no_secret_reaches_logs_or_errors": "winback.kit DEBUG",
    "TestTwice::test_a_write_is_applied_at_most_once[discount_code]": "succeeded; expected DiscountCodeTakenError",
    "TestFixedKnownFailure::test_a_write_is_applied_at_most_once[discount_code]": "[XPASS(strict)] was a bug once",
}


def run_plugin_suite(pytester: pytest.Pytester) -> dict[str, tuple[str, str]]:
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\nasyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"\n'
    )
    pytester.makepyfile(test_plugin=PLUGIN_TESTS)
    recorder = pytester.inline_run("-p", "no:cacheprovider")
    results: dict[str, tuple[str, str]] = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        name = report.nodeid.split("::", 1)[1]
        if report.when == "call" or report.outcome != "passed":
            outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
            results[name] = (outcome, str(report.longrepr or ""))
    return results


def test_each_broken_connector_fails_the_check_named_for_its_fault(pytester: pytest.Pytester) -> None:
    results = run_plugin_suite(pytester)
    for name, words in EXPECTED_FAILURES.items():
        outcome, text = results[name]
        assert outcome == "failed", f"{name}: {outcome}"
        assert words in text, f"{name} failed without saying {words!r}:\n{text}"
    unexpected = sorted(n for n, (outcome, _) in results.items() if outcome == "failed" and n not in EXPECTED_FAILURES)
    assert not unexpected, f"these checks failed although nothing was broken for them: {unexpected}"
    assert results["TestKnownFailure::test_a_write_is_applied_at_most_once[discount_code]"][0] == "xfailed"


def test_a_sound_connector_passes_or_skips_with_a_reason(pytester: pytest.Pytester) -> None:
    results = {n: r for n, r in run_plugin_suite(pytester).items() if n.startswith("TestSound::")}
    assert len(results) >= 20
    assert {outcome for outcome, _ in results.values()} <= {"passed", "skipped"}
    skipped = {n: text for n, (outcome, text) in results.items() if outcome == "skipped"}
    assert all("returned None" in text or "did not arrange" in text for text in skipped.values()), skipped
    assert results["TestSound::test_no_secret_reaches_logs_or_errors"][0] == "passed"
