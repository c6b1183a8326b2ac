"""Shopify's calculated-query-cost bucket, modelled on our side so we wait before being throttled.

Every response reports ``extensions.cost.throttleStatus`` (bucket size, points available, restore
rate per second). :class:`CostBucket` keeps the last report and extrapolates it with time; before a
request it waits until the bucket should hold the request's expected cost: the
``requestedQueryCost`` Shopify reported last time for the same document, or a static estimate
(:func:`estimate_cost`) the first time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    parse,
)

log = logging.getLogger("winback.connectors.shopify")

LONG_WAIT_S = 2.0
"""A wait for the bucket this long or longer is logged at INFO, shorter ones at DEBUG."""
LOG_EVERY_S = 10.0
"""At most one such INFO line per this many seconds, so a throttled sync does not flood the log."""

MAX_QUERY_COST = 1000
"""Shopify refuses a single query whose requested cost exceeds this (MAX_COST_EXCEEDED)."""

Sleep = Callable[[float], Awaitable[None]]


# --- static cost estimate ----------------------------------------------------------------------


@lru_cache(maxsize=64)
def parsed(text: str) -> DocumentNode:
    """``text`` parsed once: the documents are constants, asked about at every read and request.

    The tree is shared, so callers must not change it."""
    return parse(text)


def estimate_cost(document: str | DocumentNode, variables: Mapping[str, Any] | None = None) -> int:
    """Shopify's documented cost rules applied to a document without the schema.

    Scalars and enums cost 0, objects 1, a connection (a field with ``first``/``last``) 2 plus
    ``first`` × the cost of one node; unions and interfaces (inline fragments) cost their most
    expensive branch. ``pageInfo`` is part of the connection's 2. The result is an upper bound of
    what Shopify reports as ``requestedQueryCost``, close enough to pace requests and to choose
    page sizes that stay under :data:`MAX_QUERY_COST`.
    """
    node = parsed(document) if isinstance(document, str) else document
    fragments = {d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)}
    variables = variables or {}
    total = 0
    for definition in node.definitions:
        if isinstance(definition, OperationDefinitionNode):
            cost = _selection_cost(definition.selection_set, fragments, variables)
            if definition.operation.value == "mutation":
                cost += 10  # Shopify charges mutations a flat 10 on top of what they select
            total += cost
    return total


def _int_argument(field: FieldNode, names: tuple[str, ...], variables: Mapping[str, Any]) -> int | None:
    for argument in field.arguments or ():
        if argument.name.value not in names:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            found = variables.get(value.name.value)
            return int(found) if isinstance(found, int) else None
    return None


def _selection_cost(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    if selection_set is None:
        return 0
    plain = 0
    branches: list[int] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            plain += _field_cost(selection, fragments, variables)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                plain += _selection_cost(fragment.selection_set, fragments, variables)
        elif isinstance(selection, InlineFragmentNode):
            branches.append(_selection_cost(selection.selection_set, fragments, variables))
    return plain + (max(branches) if branches else 0)


def _field_cost(field: FieldNode, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]) -> int:
    if field.selection_set is None or field.name.value == "pageInfo":
        return 0
    size = _int_argument(field, ("first", "last"), variables)
    if size is None:
        return 1 + _selection_cost(field.selection_set, fragments, variables)
    per_node = 0
    for child in field.selection_set.selections:
        if not isinstance(child, FieldNode):
            continue
        if child.name.value == "nodes":
            per_node = max(per_node, 1 + _selection_cost(child.selection_set, fragments, variables))
        elif child.name.value == "edges" and child.selection_set is not None:
            for grandchild in child.selection_set.selections:
                if isinstance(grandchild, FieldNode) and grandchild.name.value == "node":
                    per_node = max(per_node, 1 + _selection_cost(grandchild.selection_set, fragments, variables))
    return 2 + size * per_node


def largest_page(document: str, variables: Mapping[str, Any], *, size_variable: str = "first", ceiling: int = 250) -> int:
    """The largest ``size_variable`` (≤ ``ceiling``) that keeps the estimate ≤ :data:`MAX_QUERY_COST`."""
    tree = parsed(document)
    low, high = 1, ceiling
    if estimate_cost(tree, {**variables, size_variable: high}) <= MAX_QUERY_COST:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_cost(tree, {**variables, size_variable: middle}) <= MAX_QUERY_COST:
            low = middle
        else:
            high = middle - 1
    return low


# --- the bucket --------------------------------------------------------------------------------


class CostBucket:
    """Our model of the store's cost bucket for this app, fed by every response's throttleStatus."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_wait_s: float = 60.0,
        store: str = "Shopify",
    ) -> None:
        """``store`` names the shop in log lines."""
        self.maximum: float | None = None
        self.available: float | None = None
        self.restore_rate: float | None = None
        self._updated = 0.0
        self._clock = clock
        self._sleep = sleep
        self._max_wait_s = max_wait_s
        self._requested: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self.waited_s = 0.0
        """Total time spent waiting for the bucket (for benchmarks and status output)."""
        self.store = store
        self._logged_at: float | None = None

    # what we learn ------------------------------------------------------------------------------

    def observe(self, document_name: str | None, cost: Mapping[str, Any] | None) -> None:
        """Record ``extensions.cost`` of a response (THROTTLED ones included)."""
        if not isinstance(cost, Mapping):
            return
        requested = cost.get("requestedQueryCost")
        if document_name and isinstance(requested, (int, float)):
            self._requested[document_name] = int(requested)
        status = cost.get("throttleStatus")
        if not isinstance(status, Mapping):
            return
        try:
            maximum = float(status["maximumAvailable"])
            available = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return
        self.maximum, self.available, self.restore_rate = maximum, available, rate
        self._updated = self._clock()

    def expected_cost(self, document_name: str, estimate: int) -> int:
        return self._requested.get(document_name, estimate)

    def projected_available(self) -> float | None:
        """Points we expect are available now, extrapolating the last report with the restore rate."""
        if self.available is None or self.restore_rate is None or self.maximum is None:
            return None
        elapsed = max(0.0, self._clock() - self._updated)
        return min(self.maximum, self.available + elapsed * self.restore_rate)

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` points should be available (0 when unknown or already there)."""
        available = self.projected_available()
        if available is None or not self.restore_rate or self.restore_rate <= 0:
            return 0.0
        if self.maximum is not None:
            cost = min(cost, self.maximum)  # a query larger than the bucket can only wait for a full one
        missing = cost - available
        return 0.0 if missing <= 0 else missing / self.restore_rate

    @staticmethod
    def throttled_wait(cost: Mapping[str, Any] | None) -> float | None:
        """``(requested - currentlyAvailable) / restoreRate`` from a THROTTLED response, if given."""
        if not isinstance(cost, Mapping):
            return None
        status = cost.get("throttleStatus")
        requested = cost.get("requestedQueryCost")
        if not isinstance(status, Mapping) or not isinstance(requested, (int, float)):
            return None
        try:
            available = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return None
        if rate <= 0:
            return None
        return max(0.0, (float(requested) - available) / rate)

    # what we do ---------------------------------------------------------------------------------

    async def acquire(self, document_name: str, estimate: int) -> None:
        """Wait until the bucket should hold this request's expected cost, then debit it."""
        async with self._lock:
            cost = self.expected_cost(document_name, estimate)
            delay = min(self.wait_for(cost), self._max_wait_s)
            if delay > 0:
                self._log_wait(delay, cost)
                self.waited_s += delay
                await self._sleep(delay)
            projected = self.projected_available()
            if projected is not None:
                # Debit now so concurrent requests see the spend before the response arrives.
                self.available = projected - cost
                self._updated = self._clock()

    def _log_wait(self, delay: float, cost: float) -> None:
        now = self._clock()
        loud = delay >= LONG_WAIT_S and (self._logged_at is None or now - self._logged_at >= LOG_EVERY_S)
        if loud:
            self._logged_at = now
        log.log(
            logging.INFO if loud else logging.DEBUG,
            "%s: waiting %.1f s for Shopify's query cost budget (%d points needed, about %d of %d available, "
            "restoring %g/s; %.0f s waited so far)",
            self.store, delay, cost, self.projected_available() or 0, self.maximum or 0, self.restore_rate or 0,
            self.waited_s,
        )

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.waited_s += seconds
            await self._sleep(seconds)
