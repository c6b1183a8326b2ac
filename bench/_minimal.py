"""The minimal clients winback's sync is measured against: they fetch what it fetches and only decode it.

Why: a sync's wall time on this machine depends on the load and on the emulator's own work. A
client that sends the same requests to the same emulator, JSON-decodes every answer and keeps
nothing is the floor for that work, so ``winback wall / minimal wall`` says how much winback adds,
whatever else runs on the machine.

* :func:`replay` sends the requests a winback run recorded (``WireTransport(record=True)``), in
  order, with the same headers and bodies: for Shopify the same GraphQL documents and cursors. A
  bulk export is run again (the recorded ``bulkOperationRunQuery``), polled with winback's own
  schedule (``bulk_poll_interval_s``, growing by ``bulk.POLL_GROWTH`` up to ``bulk_poll_max_interval_s``) and its file
  downloaded and decoded line by line.
* :func:`ecwid_documented` pages ``/customers``, ``/orders`` and ``/products`` with the
  documented ``offset``/``limit`` (100) until ``total``: what any Ecwid client does, without
  winback's windows by ``updatedFrom``/``updatedTo``.

Both use a plain synchronous ``httpx.Client``: one connection, nothing in flight concurrently.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from winback.connectors.shopify.bulk import POLL_GROWTH

BULK_POLL = "bulkOperation(id:"
BULK_RUN = "bulkOperationRunQuery"


def _decode(response: httpx.Response) -> Any:
    response.raise_for_status()
    return json.loads(response.content)


def _bulk_status(client: httpx.Client, poll: dict[str, Any], new_id: str) -> dict[str, Any]:
    body = json.loads(poll["body"])
    body["variables"] = {**body.get("variables", {}), "id": new_id}
    answer = _decode(client.post(poll["url"], headers=poll["headers"], content=json.dumps(body)))
    return answer["data"]["bulkOperation"]


def replay(recorded: list[dict[str, Any]], *, poll_interval_s: float = 1.0, poll_max_interval_s: float = 30.0) -> dict[str, Any]:
    """Send ``recorded`` again; returns counts (requests sent, answers decoded, bulk rows decoded)."""
    sent = rows = 0
    started_ids: list[str] = []
    handled: dict[str, dict[str, Any]] = {}
    """recorded bulk operation id -> our completed operation."""
    with httpx.Client(timeout=300) as client:
        for req in recorded:
            is_graphql = req["url"].endswith("/graphql.json")
            if is_graphql and BULK_POLL in req["body"]:
                old_id = json.loads(req["body"]).get("variables", {}).get("id")
                if old_id in handled:
                    continue
                interval = poll_interval_s
                while True:
                    sent += 1
                    operation = _bulk_status(client, req, started_ids[-1])
                    if operation["status"] not in ("CREATED", "RUNNING"):
                        break
                    time.sleep(interval)
                    interval = min(poll_max_interval_s, interval * POLL_GROWTH)
                handled[old_id] = operation
                continue
            if req["method"] == "GET" and not is_graphql and handled:
                # the bulk file: ours, not the one the recorded run downloaded
                url = list(handled.values())[-1].get("url")
                if not url:
                    continue
                sent += 1
                with client.stream("GET", url) as response:
                    response.raise_for_status()
                    for line in response.iter_lines():
                        if line:
                            json.loads(line)
                            rows += 1
                continue
            sent += 1
            response = client.request(req["method"], req["url"], headers=req["headers"], content=req["body"].encode("latin-1"))
            answer = _decode(response)
            if is_graphql and BULK_RUN in req["body"]:
                started_ids.append(answer["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"])
    return {"requests": sent, "bulk_rows": rows}


def ecwid_documented(api_url: str, token: str, *, page_size: int = 100) -> dict[str, Any]:
    """Every customer, order and product by plain ``offset``/``limit`` paging; returns counts."""
    sent = 0
    counts: dict[str, int] = {}
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        for resource in ("customers", "orders", "products"):
            offset = seen = 0
            while True:
                sent += 1
                page = _decode(client.get(f"/{resource}", params={"offset": offset, "limit": page_size}))
                items = page["items"]
                seen += len(items)
                offset += len(items)
                if not items or offset >= page["total"]:
                    break
            counts[resource] = seen
    return {"requests": sent, "records": counts}
