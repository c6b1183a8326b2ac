"""Bulk query operations: validate, run (lazily), and serve the JSONL result.

Flow as on Shopify: ``bulkOperationRunQuery`` returns a CREATED operation; polling ``bulkOperation``
moves it to RUNNING and then COMPLETED (after ``polls_to_complete`` polls or ``complete_after_s``
seconds, whichever comes first, and once its lines are counted on a thread of its own); the
completed operation's ``url`` points at ``/bulk/<n>.jsonl`` on this server. The file has one line
per node; nodes of a nested connection get their own lines with ``__parentId`` right after their
parent. Root ``first`` limits are ignored (all records).

Lines are produced by executing the bulk query with graphql-core over chunks of root records, so
memory stays bounded by the chunk size however large the shop is.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    get_named_type,
    parse,
    validate,
    value_from_ast_untyped,
)

from winback.emulator.shopify.ids import ID_BASE, iso
from winback.emulator.shopify.resolvers import ROOT_SCOPES, Context, _order_visible, search_predicate

if TYPE_CHECKING:
    from winback.emulator.shopify.app import ShopifyEmulator

Record = dict[str, Any]

MAX_CONCURRENT = 5
MAX_CONNECTIONS = 5
MAX_DEPTH = 2
CHUNK = 250
FINISH_WAIT_S = 0.5
"""How long the poll that makes an operation due waits for its lines to be counted."""
_ROOT_KINDS = {"customers": "Customer", "orders": "Order", "products": "Product"}
_ACTIVE = ("CREATED", "RUNNING", "CANCELING")


def _invalid(message: str) -> Record:
    return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": "INVALID"}]}


class BulkOperations:
    def __init__(self, emulator: ShopifyEmulator, *, polls_to_complete: int = 2, complete_after_s: float = 2.0) -> None:
        self.emulator = emulator
        self.polls_to_complete = polls_to_complete
        self.complete_after_s = complete_after_s
        self.operations: dict[int, Record] = {}
        self._lock = threading.RLock()
        self._next = 1

    # --- validation ------------------------------------------------------------------------------

    def _check(self, query: str) -> tuple[DocumentNode | None, str | None]:
        try:
            document = parse(query)
        except GraphQLError as error:
            return None, f"Invalid bulk query: {error.message}"
        errors = validate(self.emulator.schema, document)
        if errors:
            return None, f"Invalid bulk query: {errors[0].message}"
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation.value != "query":
            return None, "Bulk queries must contain exactly one query operation."
        roots = [s for s in operations[0].selection_set.selections if isinstance(s, FieldNode)]
        if len(roots) != 1:
            return None, "Bulk queries must contain exactly one top-level field."
        if roots[0].name.value not in _ROOT_KINDS:
            return None, (f"Bulk queries must start with a connection field; `{roots[0].name.value}` is not supported "
                          "by this emulator (supported: customers, orders, products).")
        query_type = self.emulator.schema.query_type
        assert query_type is not None
        counts = {"connections": 0, "depth": 0}
        problem = self._walk(query_type, roots[0], 0, counts)
        if problem:
            return None, problem
        if counts["connections"] > MAX_CONNECTIONS:
            return None, f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
        if counts["depth"] > MAX_DEPTH:
            return None, f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_DEPTH}."
        return document, None

    def _walk(self, parent: Any, node: FieldNode, depth: int, counts: dict[str, int]) -> str | None:
        definition = parent.fields[node.name.value]
        named = get_named_type(definition.type)
        if not hasattr(named, "fields") or node.selection_set is None:
            return None
        if named.name.endswith("Connection") and "pageInfo" in named.fields:
            depth += 1
            counts["connections"] += 1
            counts["depth"] = max(counts["depth"], depth)
            selections = {s.name.value: s for s in node.selection_set.selections if isinstance(s, FieldNode)}
            if "nodes" in selections or "edges" not in selections:
                return (f"The `{node.name.value}` connection must select `edges {{ node {{ ... }} }}`; "
                        "`nodes` is not supported in bulk queries.")
            edge = selections["edges"]
            inner = next((s for s in edge.selection_set.selections if isinstance(s, FieldNode)
                          and s.name.value == "node"), None) if edge.selection_set else None
            if inner is None:
                return f"The `{node.name.value}` connection must select `edges {{ node {{ ... }} }}`."
            node_type = get_named_type(named.fields["nodes"].type)
            child_fields = [s for s in inner.selection_set.selections if isinstance(s, FieldNode)] if inner.selection_set else []
            has_nested = any(self._is_connection(node_type, f) for f in child_fields)
            if has_nested and not any(f.name.value == "id" for f in child_fields):
                return (f"The parent 'node' field for a nested connection must select the 'id' field. "
                        f"Connection fields without 'id': {node.name.value}.")
            for child in child_fields:
                problem = self._walk(node_type, child, depth, counts)
                if problem:
                    return problem
            return None
        for child in node.selection_set.selections:
            if isinstance(child, FieldNode) and hasattr(named, "fields") and child.name.value in named.fields:
                if self._is_connection(named, child):
                    return "Queries that contain a connection field within a list or object field are not supported."
                problem = self._walk(named, child, depth, counts)
                if problem:
                    return problem
        return None

    @staticmethod
    def _is_connection(parent: Any, node: FieldNode) -> bool:
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return False
        named = get_named_type(definition.type)
        return named.name.endswith("Connection") and "pageInfo" in getattr(named, "fields", {})

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self, query: str) -> Record:
        document, problem = self._check(query)
        if problem:
            return _invalid(problem)
        with self._lock:
            for operation in self.operations.values():
                self._advance(operation, poll=False)
            active = [op for op in self.operations.values() if op["status"] in _ACTIVE]
            if len(active) >= MAX_CONCURRENT:
                return {"bulkOperation": None, "userErrors": [{
                    "field": None,
                    "message": (f"A bulk query operation for this app and shop is already in progress: {active[0]['id']}. "
                                f"Apps can run up to {MAX_CONCURRENT} bulk query operations at a time per shop."),
                    "code": "OPERATION_IN_PROGRESS",
                }]}
            number = ID_BASE["BulkOperation"] + self._next
            self._next += 1
            operation: Record = {
                "_num": number,
                "_document": document,
                "_polls": 0,
                "_started": time.monotonic(),
                "id": f"gid://shopify/BulkOperation/{number}",
                "status": "CREATED",
                "errorCode": None,
                "createdAt": iso(self.emulator.state.now()),
                "completedAt": None,
                "objectCount": "0",
                "rootObjectCount": "0",
                "fileSize": None,
                "url": None,
                "partialDataUrl": None,
                "query": query,
                "type": "QUERY",
            }
            self.operations[number] = operation
            return {"bulkOperation": operation, "userErrors": []}

    def _find(self, operation_id: str) -> Record | None:
        if not isinstance(operation_id, str) or not operation_id.startswith("gid://shopify/BulkOperation/"):
            return None
        number = operation_id.rsplit("/", 1)[1]
        return self.operations.get(int(number)) if number.isdigit() else None

    def poll(self, operation_id: str) -> Record | None:
        with self._lock:
            operation = self._find(operation_id)
            if operation is not None:
                self._advance(operation, poll=True)
            return operation

    def cancel(self, operation_id: str) -> Record:
        with self._lock:
            operation = self._find(operation_id)
            if operation is None:
                return {"bulkOperation": None, "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}]}
            if operation["status"] not in _ACTIVE:
                return {"bulkOperation": operation, "userErrors": [{"field": None, "message": (
                    f"A bulk operation cannot be canceled when it is {operation['status'].lower()}")}]}
            operation["status"] = "CANCELED"
            operation["completedAt"] = iso(self.emulator.state.now())
            return {"bulkOperation": operation, "userErrors": []}

    def _advance(self, operation: Record, *, poll: bool) -> None:
        if operation["status"] not in ("CREATED", "RUNNING"):
            return
        if poll:
            operation["_polls"] += 1
        elapsed = time.monotonic() - operation["_started"]
        due = operation["_polls"] >= self.polls_to_complete or elapsed >= self.complete_after_s
        if operation["status"] == "CREATED" and (operation["_polls"] >= 1 or due):
            operation["status"] = "RUNNING"
        if operation["status"] == "RUNNING" and due:
            self._complete(operation)

    def _complete(self, operation: Record) -> None:
        """Finish a due operation. Its lines are counted on a thread of its own, as Shopify runs an
        export apart from the API: a poll answers at once (RUNNING until the count is done) instead
        of holding every other request while a large shop is walked. A small shop's count ends
        within :data:`FINISH_WAIT_S`, so it still completes on the poll that made it due."""
        root = self._root(operation)
        scope = ROOT_SCOPES.get(root.name.value)
        if scope and not self.emulator.has_scope(scope):
            operation.update(status="FAILED", errorCode="ACCESS_DENIED", completedAt=iso(self.emulator.state.now()))
            return
        finisher = operation.get("_finisher")
        if finisher is None:
            finisher = operation["_finisher"] = threading.Thread(
                target=self._count, args=(operation,), name=f"bulk-{operation['_num']}", daemon=True
            )
            finisher.start()
        finisher.join(FINISH_WAIT_S)
        if operation.get("_failed"):
            operation.update(status="FAILED", errorCode="INTERNAL_SERVER_ERROR", completedAt=iso(self.emulator.state.now()))
            return
        counted = operation.get("_counted")
        if counted is None:
            return
        objects, roots, size = counted
        operation.update(
            status="COMPLETED",
            completedAt=iso(self.emulator.state.now()),
            objectCount=str(objects),
            rootObjectCount=str(roots),
            fileSize=str(size) if objects else None,
            url=f"{self.emulator.public_url}/bulk/{operation['_num']}.jsonl" if objects else None,
        )

    def _count(self, operation: Record) -> None:
        """Count the operation's lines and bytes (runs on the operation's own thread, without the
        lock; the result is a single assignment the next poll picks up)."""
        objects = roots = size = 0
        try:
            for line in self._lines(operation):
                objects += 1
                roots += "__parentId" not in line
                size += len(json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()) + 1
        except Exception:  # Shopify reports a broken export as FAILED, never as a stuck RUNNING one
            operation["_counted"] = None
            operation["_failed"] = True
            return
        operation["_counted"] = (objects, roots, size)

    # --- results ---------------------------------------------------------------------------------

    @staticmethod
    def _root(operation: Record) -> FieldNode:
        document: DocumentNode = operation["_document"]
        definition = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        return next(s for s in definition.selection_set.selections if isinstance(s, FieldNode))

    def jsonl(self, number: int) -> Iterator[Record] | None:
        """The result lines of a completed operation, generated lazily; ``None`` when unknown."""
        operation = self.operations.get(number)
        if operation is None or operation["status"] != "COMPLETED":
            return None
        return self._lines(operation)

    def _lines(self, operation: Record) -> Iterator[Record]:
        emulator = self.emulator
        state = emulator.state
        root = self._root(operation)
        args = {a.name.value: value_from_ast_untyped(a.value, None) for a in root.arguments or ()}
        collection = getattr(state, root.name.value)
        context = Context(emulator=emulator)
        visible = _order_visible(context) if root.name.value == "orders" else None
        predicate = search_predicate(collection, args.get("query"), context, visible)
        sort_key = args.get("sortKey") or "ID"
        records = list(collection.scan(sort_key, bool(args.get("reverse")), None, predicate))
        key = root.alias.value if root.alias else root.name.value
        for start in range(0, len(records), CHUNK):
            context.bulk_records = records[start : start + CHUNK]
            result = execute(emulator.schema, operation["_document"], context_value=context)
            if result.errors:
                raise RuntimeError(f"bulk execution failed: {result.errors[0].message}")
            assert result.data is not None
            for edge in result.data[key]["edges"]:
                yield from _flatten(edge["node"], None)


def _flatten(node: Record, parent_id: str | None) -> Iterator[Record]:
    line: Record = {}
    children: list[Record] = []
    for name, value in node.items():
        if isinstance(value, dict) and isinstance(value.get("edges"), list):
            children.extend(edge["node"] for edge in value["edges"])
        else:
            line[name] = value
    if parent_id is not None:
        line["__parentId"] = parent_id
    yield line
    for child in children:
        yield from _flatten(child, node.get("id"))


def parse_bulk_number(path: str) -> int | None:
    name = path.rsplit("/", 1)[-1]
    if not name.endswith(".jsonl") or not name[: -len(".jsonl")].isdigit():
        return None
    return int(name[: -len(".jsonl")])

