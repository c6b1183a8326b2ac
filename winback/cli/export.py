"""``winback export``: stream one client's customers, orders or products as JSON lines or CSV.

Rows are read in batches from the local store (never all at once). JSON lines are for machines:
the common model's field names (:class:`winback.model.Customer`, ``Order``, ``Product``), nested
values (money, addresses, line items) as JSON objects. CSV is for spreadsheets: money as amount
and currency columns, nested records flattened, formula-like text neutralised (see
:mod:`winback.sync.export_csv`). A file given with ``--output`` is written privately (mode 0600:
it holds personal data) and appears only complete.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import IO, Any

import click
from pydantic import BaseModel

from winback.cli._common import load_client
from winback.model import Customer, Order, Product
from winback.sync import open_store
from winback.sync.export_csv import csv_columns, write_csv
from winback.sync.rows import DERIVED_FIELDS

log = logging.getLogger(__name__)

MODELS: dict[str, type[BaseModel]] = {"customers": Customer, "orders": Order, "products": Product}


def columns(resource: str, *, derived: bool = False) -> list[str]:
    """The exported field names: the model's, then (optionally) the derived facts."""
    names = list(MODELS[resource].model_fields)
    return names + [n for n in DERIVED_FIELDS.get(resource, ()) if n not in names] if derived else names


@click.command()
@click.argument("resource", type=click.Choice(list(MODELS)))
@click.option("--config", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The client's config.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@click.option("--with-derived", is_flag=True, help="Add derived facts (ordered_at, real_orders_count, ...).")
def export(resource: str, config: Path, fmt: str, output: Path | None, with_derived: bool) -> None:
    """Export RESOURCE (customers, orders or products) of one client's store from the local database."""
    client = load_client(config)
    key = client.store_key
    names = columns(resource, derived=with_derived)
    with open_store(client.database.url) as store, _destination(output) as stream:
        rows = ({name: row.get(name) for name in names} for row in store.iter_rows(key, resource))
        if fmt == "csv":
            written = write_csv(stream, csv_columns(MODELS[resource], names), rows)
        else:
            written = _write_jsonl(stream, rows)
    log.info("exported %d %s of %s%s", written, resource, client.name, f" to {output}" if output else "")


@contextmanager
def _destination(output: Path | None) -> Iterator[IO[str]]:
    if output is None:
        yield sys.stdout
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(temp, output)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _write_jsonl(stream: IO[str], rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    for row in rows:
        stream.write(json.dumps(_plain(row), ensure_ascii=False) + "\n")
        count += 1
    return count
