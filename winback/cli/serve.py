"""``winback serve`` and ``winback webhooks``: the web side (see :mod:`winback.web`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from winback.cli._common import load_client

_config = click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="The client's TOML config.",
)


@click.command()
@click.option("--config-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="The folder of client configs (*.toml) to serve.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (keep it behind a TLS proxy).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--public-url", help="The https address the proxy serves this under (used by `webhooks register`).")
@click.option("--body-limit", default=256 * 1024, show_default=True, type=click.IntRange(1024),
              help="Largest request body accepted, in bytes.")
@click.option("--debounce", default=5.0, show_default=True, type=click.FloatRange(0),
              help="Seconds a store's order webhooks are gathered into one sync.")
@click.option("--retry-interval", default=60.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds between tries of consent changes the platform has not taken yet.")
def serve(config_dir: Path, host: str, port: int, public_url: str | None, body_limit: int,
          debounce: float, retry_interval: float) -> None:
    """Serve one-click unsubscribe links and the platforms' webhooks for every client in CONFIG_DIR."""
    import uvicorn

    from winback.web import ServeOptions, create_app

    options = ServeOptions(public_url=public_url, body_limit=body_limit, debounce_s=debounce,
                           retry_interval_s=retry_interval)
    app = create_app(config_dir, options)
    hub = app.state.hub
    click.echo(f"winback serve: {len(hub.clients)} client(s) from {config_dir} on http://{host}:{port}", err=True)
    for problem in hub.problems:
        click.secho(f"skipped: {problem}", fg="yellow", err=True)
    # No access log: request paths carry unsubscribe links. Our own log lines mask addresses.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", proxy_headers=True,
                server_header=False, timeout_graceful_shutdown=10)


@click.group()
def webhooks() -> None:
    """Subscribe a store's webhooks, or mark a reinstalled app connected again."""


@webhooks.command("register")
@_config
@click.option("--public-url", help="The https address of `winback serve`; default: [email] public_url.")
def register(config: Path, public_url: str | None) -> None:
    """Subscribe the store's order, customer and uninstall webhooks to `winback serve`.

    Shopify's privacy topics (customers/data_request, customers/redact, shop/redact) cannot be
    subscribed through the API: set them in the app's configuration (shopify.app.toml or the
    Partner dashboard). Ecwid apps set their webhook URL in the app's settings.
    """
    client = load_client(config)
    base = public_url or (client.email.public_url if client.email else None)
    if not base:
        raise click.UsageError("give --public-url (or set public_url under [email] in the config)")
    if client.platform != "shopify":
        click.echo(f"{client.store_label}: {client.platform} webhooks are set in the app's settings: "
                   f"webhook URL {base.rstrip('/')}/webhooks/{client.platform}")
        return

    from winback.connectors.shopify.consent import API_TOPICS, subscribe_webhook

    uri = f"{base.rstrip('/')}/webhooks/shopify"

    async def go() -> list[tuple[str, str]]:
        async with client.build_connector() as connector:
            return [(topic, await subscribe_webhook(connector, topic, uri)) for topic in API_TOPICS]  # type: ignore[arg-type]

    for topic, outcome in asyncio.run(go()):
        click.echo(f"{topic}: {'already subscribed' if outcome == 'exists' else 'subscribed'} -> {uri}")
    click.echo("privacy topics (customers/data_request, customers/redact, shop/redact): set them in "
               "shopify.app.toml ([webhooks] compliance_topics) or the Partner dashboard, to the same URL")


@webhooks.command("reconnect")
@_config
def reconnect(config: Path) -> None:
    """Clear the disconnected mark an app/uninstalled webhook left, once the app is reinstalled."""
    from winback.sync import open_store
    from winback.sync.connections import mark_connected

    client = load_client(config)
    store = open_store(client.database.url)
    try:
        cleared = mark_connected(store, client.store_key)
    finally:
        store.close()
    click.echo(f"{client.store_label}: connected again" if cleared else f"{client.store_label} was not disconnected")
