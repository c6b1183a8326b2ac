"""Calculated query cost and the leaky bucket, as Shopify documents them.

Static (requested) cost, computed before execution: scalars and enums 0, objects 1, a connection
2 plus ``first`` (or ``last``) times the cost of one node, interfaces and unions the maximum over
their fragments, each mutation field 10. The actual cost walks the returned data the same way with
the real number of nodes. The bucket refills continuously at ``restore_rate`` points per second.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10
MAX_QUERY_COST = 1000

_UNSET = object()


class CostCalculator:
    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any] | None,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = variables or {}

    def requested(self) -> int:
        return self._operation_cost(_UNSET)

    def actual(self, data: dict[str, Any] | None) -> int:
        return self._operation_cost(data if data is not None else None)

    def _operation_cost(self, data: Any) -> int:
        if self.operation.operation.value == "mutation":
            fields = [s for s in self.operation.selection_set.selections if isinstance(s, FieldNode)]
            if data is None:
                return 0
            return MUTATION_COST * len([f for f in fields if f.name.value != "__typename"])
        root = self.schema.query_type
        assert root is not None
        if data is None:
            return 0
        return self._selection_cost(root, self.operation.selection_set, data)

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, self.variables)
        return None

    def _selection_cost(self, parent: Any, selection_set: SelectionSetNode | None, data: Any) -> int:
        """Cost of the selections on ``parent`` (a named output type); ``data`` is the returned
        object or ``_UNSET`` for the static estimate."""
        if selection_set is None:
            return 0
        total = 0
        fragment_costs: list[int] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(parent, selection, data)
            else:
                if isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition.name.value if selection.type_condition else None
                    sub_selection = selection.selection_set
                else:
                    assert isinstance(selection, FragmentSpreadNode)
                    fragment = self.fragments.get(selection.name.value)
                    if fragment is None:
                        continue
                    condition, sub_selection = fragment.type_condition.name.value, fragment.selection_set
                target = self.schema.get_type(condition) if condition else parent
                if target is None:
                    continue
                cost = self._selection_cost(target, sub_selection, data)
                if condition and condition != getattr(parent, "name", None):
                    fragment_costs.append(cost)
                else:
                    total += cost
        return total + (max(fragment_costs) if fragment_costs else 0)

    def _field_cost(self, parent: Any, node: FieldNode, data: Any) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        value: Any = _UNSET
        if data is not _UNSET:
            key = node.alias.value if node.alias else name
            value = data.get(key) if isinstance(data, dict) else None
            if value is None:
                return 0
        if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType) and "pageInfo" in named.fields:
            return self._connection_cost(named, node, value)
        if isinstance(value, list):
            value = value[0] if value else None
            if value is None:
                return 1
        if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)):
            return 1 + self._selection_cost(named, node.selection_set, value)
        return 0

    def _connection_cost(self, connection: GraphQLObjectType, node: FieldNode, value: Any) -> int:
        node_type = get_named_type(connection.fields["nodes"].type)
        per_node: list[int] = []
        items: list[Any] | None = None
        for selection in node.selection_set.selections if node.selection_set else ():
            if not isinstance(selection, FieldNode):
                continue
            key = selection.alias.value if selection.alias else selection.name.value
            if selection.name.value == "nodes":
                inner = selection.selection_set
                if value is not _UNSET:
                    items = [(item, inner) for item in value.get(key) or ()]
                per_node.append(1 + self._selection_cost(node_type, inner, _UNSET))
            elif selection.name.value == "edges":
                inner = None
                for edge_selection in selection.selection_set.selections if selection.selection_set else ():
                    if isinstance(edge_selection, FieldNode) and edge_selection.name.value == "node":
                        inner = edge_selection
                if inner is None:
                    continue
                node_key = inner.alias.value if inner.alias else "node"
                if value is not _UNSET and items is None:
                    items = [((edge or {}).get(node_key), inner.selection_set) for edge in value.get(key) or ()]
                per_node.append(1 + self._selection_cost(node_type, inner.selection_set, _UNSET))
        if value is _UNSET:
            size = self._argument(node, "first") or self._argument(node, "last") or 0
            return 2 + int(size) * (max(per_node) if per_node else 0)
        return 2 + sum(1 + self._selection_cost(node_type, inner, item) for item, inner in items or ())


class LeakyBucket:
    """Shopify's per app-and-shop bucket: ``size`` points, refilled at ``restore_rate`` per second."""

    def __init__(self, size: float = 2000.0, restore_rate: float = 100.0, *, enabled: bool = True) -> None:
        self.size = float(size)
        self.restore_rate = float(restore_rate)
        self.enabled = enabled
        self._available = float(size)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._available = min(self.size, self._available + (now - self._stamp) * self.restore_rate)
        self._stamp = now

    def try_take(self, cost: int) -> bool:
        with self._lock:
            if not self.enabled:
                return True
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: int) -> None:
        with self._lock:
            if self.enabled and points > 0:
                self._refill()
                self._available = min(self.size, self._available + points)

    def drain(self, points: float | None = None) -> None:
        """Test hook: empty the bucket (or take ``points``) without a request."""
        with self._lock:
            self._refill()
            self._available = max(0.0, self._available - (self.size if points is None else points))

    def status(self) -> dict[str, Any]:
        with self._lock:
            if self.enabled:
                self._refill()
            available = self._available if self.enabled else self.size
            return {
                "maximumAvailable": self.size,
                "currentlyAvailable": int(available),
                "restoreRate": self.restore_rate,
            }
