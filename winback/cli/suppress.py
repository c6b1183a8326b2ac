"""``winback suppress``: addresses that never get anything from winback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from winback.cli._common import load_client
from winback.rules.suppressions import SuppressionList
from winback.sync import open_store

_config = click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="The client's TOML config (its database and store).",
)
_all = click.option("--all-stores", is_flag=True, help="For every store in the client's database, not just this one.")


@click.group()
def suppress() -> None:
    """Add, remove or list suppressed email addresses (checked before every action)."""


def _open(config: Path) -> tuple[SuppressionList, str, object]:
    client = load_client(config)
    store = open_store(client.database.url)
    key = client.store_key
    return SuppressionList(store), key, store


@suppress.command("add")
@click.argument("email")
@_config
@_all
@click.option("--reason", help="Why (kept with the entry).")
def add(email: str, config: Path, all_stores: bool, reason: str | None) -> None:
    """Suppress EMAIL: winback never acts for it again.

    No email, discount code, account or invite, whatever the rules say; the address matches in
    any letter case.
    """
    if "@" not in email:
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL")
    ledger, key, store = _open(config)
    try:
        added = ledger.suppress(email, datetime.now(UTC), store_key=None if all_stores else key, reason=reason)
    finally:
        store.close()  # type: ignore[attr-defined]
    scope = "every store" if all_stores else key
    click.echo(f"suppressed {email} for {scope}" if added else f"{email} was already suppressed for {scope}")


@suppress.command("remove")
@click.argument("email")
@_config
@_all
def remove(email: str, config: Path, all_stores: bool) -> None:
    """Unsuppress EMAIL: rules may act for it again.

    Consent, the cap and the other guard rails still apply.
    """
    ledger, key, store = _open(config)
    try:
        removed = ledger.unsuppress(email, store_key=None if all_stores else key)
    finally:
        store.close()  # type: ignore[attr-defined]
    scope = "every store" if all_stores else key
    click.echo(f"{email} may be contacted again by {scope}" if removed else f"{email} was not suppressed for {scope}")


@suppress.command("list")
@_config
def list_(config: Path) -> None:
    """List the suppressed addresses: address, scope, date added, reason."""
    ledger, key, store = _open(config)
    try:
        entries = ledger.suppressions(key)
    finally:
        store.close()  # type: ignore[attr-defined]
    for entry in entries:
        scope = "all stores" if entry["store_key"] is None else entry["store_key"]
        click.echo(f"{entry['lower_email']}\t{scope}\t{entry['created_at']:%Y-%m-%d}\t{entry['reason'] or ''}")
    if not entries:
        click.echo(f"no suppressed addresses for {key}", err=True)
