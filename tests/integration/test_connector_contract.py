"""The built-in connectors pass winback's connector contract (``winback.testing``) on their emulators.

Each subclass starts a fresh emulator per test and fills in the kit's hooks with the emulator's
test knobs: ``corrupt_record`` spoils a record, a fault plan drops the connection after the next
write is applied, and the emulator's write log counts what was created.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from winback.connectors.base import Resource
from winback.connectors.ecwid import EcwidConnector, EcwidSettings
from winback.connectors.http import RetryPolicy
from winback.connectors.shopify import ShopifyConnector
from winback.emulator.ecwid import ALL_SCOPES, EcwidEmulator, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.server import EmulatorServer, FaultPlan, Request
from winback.emulator.shopify.app import ShopifyEmulator, start_shopify_emulator
from winback.emulator.shopify.ids import parse_gid
from winback.emulator.world import World
from winback.testing import ConnectorContract, Write

pytestmark = pytest.mark.integration

WRONG_TOKEN = "wrong_contract_token_x9"


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=23, customers=80, products=15)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _is_write(request: Request) -> bool:
    if request.method == "GET":
        return False
    if request.path.endswith("graphql.json"):
        return json.loads(request.body or b"{}").get("query", "").lstrip().startswith("mutation")
    return True


@dataclass
class DropAnswerToNextWrite(FaultPlan):
    """Apply the next write, then close the connection without answering (``drop_after``)."""

    pending: bool = True

    def next_fault(self, request: Request) -> str | None:
        with self._lock:
            if not self.pending or not _is_write(request):
                return None
            self.pending = False
            self.injected["drop_after"] = 1
            return "drop_after"


class TestShopifyContract(ConnectorContract):
    """Paged reads of 20 and ``bulk_threshold=0``, so ``orders(full=True)`` is a bulk export."""

    @pytest.fixture(autouse=True)
    def shop(self, world: World) -> Iterator[None]:
        self.server, self.emulator = start_shopify_emulator(
            world, restore_rate=1000.0, bucket_size=2000.0, bulk_complete_after_s=0.1
        )
        yield
        self.server.stop()

    def _connector(self, **settings: object) -> ShopifyConnector:
        emulator: ShopifyEmulator = self.emulator
        values: dict[str, object] = {
            "shop": emulator.shop_domain,
            "access_token": emulator.access_token,
            "base_url": self.server.url,
            "page_size": 20,
            "bulk_threshold": 0,
            "retry_base_delay_s": 0.01,
            "bulk_poll_interval_s": 0.05,
            "bulk_poll_max_interval_s": 0.2,
        }
        return ShopifyConnector.from_settings({**values, **settings})

    def make_connector(self) -> ShopifyConnector:
        return self._connector()

    def connector_with_bad_credentials(self) -> ShopifyConnector:
        return self._connector(access_token=WRONG_TOKEN)

    def connector_for_unreachable_platform(self) -> ShopifyConnector:
        return self._connector(base_url=f"http://127.0.0.1:{closed_port()}", max_attempts=2)

    def secrets(self) -> Sequence[str]:
        return [WRONG_TOKEN]

    def corrupt_one_record(self, resource: Resource, record_ids: Sequence[str]) -> str:
        victim = record_ids[len(record_ids) // 2]
        kind = {Resource.CUSTOMERS: "Customer", Resource.ORDERS: "Order", Resource.PRODUCTS: "Product"}[resource]
        key = parse_gid(victim, kind)
        assert key is not None, victim
        self.emulator.corrupt_record(resource.value, key)
        return victim

    def interrupt_next_write(self, what: Write) -> bool:
        self.server.faults = DropAnswerToNextWrite()
        return True

    def count_created(self, what: Write, key: str) -> int:
        writes = self.emulator.writes()
        if what == "discount_code":
            return sum(1 for w in writes["discount_codes"] if w["code"].upper() == key.upper())
        return sum(1 for w in writes["customers_created"] if (w["email"] or "").lower() == key.lower())


class TestEcwidContract(ConnectorContract):
    """Pages of 20 and windows of 100 records, so reads span several windows."""

    TOKEN = "secret_contract_token"

    @pytest.fixture(autouse=True)
    def store(self, world: World) -> Iterator[None]:
        self.server: EmulatorServer
        self.app: EcwidEmulator
        self.server, self.app = start_ecwid_emulator(
            world, scopes=ALL_SCOPES, token=self.TOKEN, requests_per_minute=100_000, fault_retry_after=0
        )
        yield
        self.server.stop()

    def _connector(self, base_url: str | None = None, token: str = TOKEN) -> EcwidConnector:
        settings = EcwidSettings(
            store_id="1003", token=token, base_url=base_url or f"{self.server.url}/api/v3",
            requests_per_minute=100_000, page_size=20, window_max_records=100, timeout_s=5,
        )
        return EcwidConnector(settings, retry=RetryPolicy(attempts=3, base_delay=0, max_delay=0))

    def make_connector(self) -> EcwidConnector:
        return self._connector()

    def connector_with_bad_credentials(self) -> EcwidConnector:
        return self._connector(token=WRONG_TOKEN)

    def connector_for_unreachable_platform(self) -> EcwidConnector:
        return self._connector(base_url=f"http://127.0.0.1:{closed_port()}/api/v3")

    def corrupt_one_record(self, resource: Resource, record_ids: Sequence[str]) -> str:
        victim = record_ids[len(record_ids) // 2]
        self.app.corrupt_record(resource.value, victim if resource is Resource.ORDERS else int(victim))
        return victim

    def interrupt_next_write(self, what: Write) -> bool:
        self.server.faults = DropAnswerToNextWrite()
        return True

    def count_created(self, what: Write, key: str) -> int:
        writes = self.app.writes()
        if what == "discount_code":
            return sum(1 for w in writes["discount_coupons"] if str(w["code"]).upper() == key.upper())
        return sum(1 for w in writes["customers_created"] if str(w["email"]).lower() == key.lower())
