"""The example plugin ``examples/winback-hello`` passes winback's connector contract.

Its own suite runs the same subclass (``examples/winback-hello/tests/test_contract.py``); this copy
lets winback's suite report each check by name. Like ``test_plugin_example.py`` it skips when the
plugin is not installed, except in CI (env ``CI`` set), where that is a failure.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import pytest

from winback.connectors.base import Connector, Resource
from winback.testing import ConnectorContract

try:
    import winback_hello
except ImportError as exc:  # pragma: no cover - depends on the environment
    if os.environ.get("CI"):
        raise
    pytest.skip(
        f"the example plugin winback-hello is not installed ({exc}); install it with "
        f"`.venv/bin/pip install -e examples/winback-hello --no-deps` or `make install`",
        allow_module_level=True,
    )

pytestmark = pytest.mark.integration

BROKEN = {
    Resource.CUSTOMERS: ("updatedAt", "yesterday"),
    Resource.ORDERS: ("total", "twelve"),
    Resource.PRODUCTS: ("price", "free"),
}


class TestHelloContract(ConnectorContract):
    @pytest.fixture(autouse=True)
    def hello_shop(self) -> None:
        self.data: dict[str, list[dict[str, Any]]] = copy.deepcopy(winback_hello.SAMPLE)

    def make_connector(self) -> Connector:
        settings = winback_hello.HelloSettings(greeting_store="Contract Shop", page_size=2, api_key="hello_contract_key_42")
        return winback_hello.HelloConnector(settings, data=self.data)

    def corrupt_one_record(self, resource: Resource, record_ids: Sequence[str]) -> str:
        victim = record_ids[len(record_ids) // 2]
        field, value = BROKEN[resource]
        for raw in self.data[resource.value]:
            if str(raw["id"]) == victim:
                raw[field] = value
        return victim
