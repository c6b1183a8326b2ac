"""winback's connector contract (``winback.testing``), run against Hello Shop.

The subclass only says how to build a connector and how to spoil one record of the data behind it;
every check comes from the kit. Hello Shop has no credentials, no network and no platform-side
write log, so those checks are skipped with a reason.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest
from winback_hello import SAMPLE, HelloConnector, HelloSettings

from winback.connectors.base import Resource
from winback.testing import ConnectorContract

BROKEN = {
    Resource.CUSTOMERS: ("updatedAt", "yesterday"),
    Resource.ORDERS: ("total", "twelve"),
    Resource.PRODUCTS: ("price", "free"),
}
"""One field per resource that Hello Shop's parser cannot read."""


class TestHelloContract(ConnectorContract):
    @pytest.fixture(autouse=True)
    def hello_shop(self) -> None:
        """The store's data for this test; the connectors the kit makes all read (and spoil) it."""
        self.data: dict[str, list[dict[str, Any]]] = copy.deepcopy(SAMPLE)

    def make_connector(self) -> HelloConnector:
        return HelloConnector(HelloSettings(greeting_store="Contract Shop", page_size=2, api_key="hello_contract_key_42"), data=self.data)

    def corrupt_one_record(self, resource: Resource, record_ids: Sequence[str]) -> str:
        victim = record_ids[len(record_ids) // 2]
        field, value = BROKEN[resource]
        for raw in self.data[resource.value]:
            if str(raw["id"]) == victim:
                raw[field] = value
        return victim
