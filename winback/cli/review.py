"""``winback review``: settle actions held because a run was interrupted mid-send.

winback never resends an email (or a platform invite) whose hand-over was interrupted: it may have
gone out. A person checks (the SMTP provider's log, the customer) and tells winback which it was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from winback.cli._common import load_client
from winback.rules.ledger import Ledger
from winback.sync import open_store

_config = click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="The client's TOML config (its database and store).",
)


@click.group()
def review() -> None:
    """List and settle actions waiting for review (interrupted sends, never resent automatically)."""


def _settle(config: Path, key: str, *, delivered: bool) -> None:
    client = load_client(config)
    store = open_store(client.database.url)
    try:
        store_key = client.store_key
        settled = Ledger(store).settle_review(store_key, key, delivered=delivered, now=datetime.now(UTC))
    finally:
        store.close()
    if not settled:
        raise click.ClickException(f"no action with key {key!r} is waiting for review in {store_key}")
    click.echo(
        f"{key}: recorded as delivered; it will not be sent again"
        if delivered
        else f"{key}: the next `winback run` sends it once"
    )


@review.command("list")
@_config
def list_(config: Path) -> None:
    """Actions waiting for review: key, rule, recipient, when the send was interrupted."""
    client = load_client(config)
    store = open_store(client.database.url)
    try:
        store_key = client.store_key
        rows = Ledger(store).needing_review(store_key)
    finally:
        store.close()
    for row in rows:
        started = f"{row['email_started_at']:%Y-%m-%d %H:%M}" if row["email_started_at"] else "-"
        click.echo(f"{row['idempotency_key']}\t{row['rule']}\t{row['email']}\t{started}")
    if not rows:
        click.echo(f"nothing is waiting for review in {store_key}", err=True)


@review.command("delivered")
@click.argument("key")
@_config
def delivered(key: str, config: Path) -> None:
    """KEY did reach the customer: mark it done."""
    _settle(config, key, delivered=True)


@review.command("resend")
@click.argument("key")
@_config
def resend(key: str, config: Path) -> None:
    """KEY did not reach the customer: the next run sends it, once."""
    _settle(config, key, delivered=False)
