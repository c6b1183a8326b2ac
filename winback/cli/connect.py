"""``winback connect``: install the app on a client's store by the authorization code grant and save
the offline token in the client's secrets file.

For an agency whose Dev Dashboard app reaches stores outside its own organization (the client
credentials grant does not work there). The steps live in
:mod:`winback.connectors.shopify.oauth` and :mod:`winback.connectors.callback_listener`; this
command wires them together and says what happened. Nothing is written unless the callback passes
every check and Shopify issued a token.
"""

from __future__ import annotations

import asyncio
import os
import sys
import webbrowser
from pathlib import Path

import click

from winback.config import ClientConfig, load_config
from winback.connect import PendingConnect, finish_install, secrets_path_for, serve_redirect_uri, settings_for_connect
from winback.connectors.callback_listener import CallbackListener
from winback.connectors.shopify.oauth import InstallRequest
from winback.connectors.shopify.settings import ShopifySettings
from winback.errors import LocalStoreMissingError, OAuthCallbackError, WinbackError


def _desktop() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


async def run_connect(
    settings: ShopifySettings, secrets_path: Path, *, timeout: float, open_browser: bool, echo=click.echo  # type: ignore[no-untyped-def]
) -> str:
    """Run one install; returns the granted scopes. Raises before writing anything on any doubt."""
    async with CallbackListener(settings.redirect_uri) as listener:
        if listener.redirect_uri != settings.redirect_uri:
            settings = settings.model_copy(update={"redirect_uri": listener.redirect_uri})
        install = InstallRequest(settings)
        echo(f"Open this URL signed in to {settings.shop} and approve the app (waiting {timeout:.0f} s):")
        echo(f"  {install.url}", )
        echo(f"The approval returns to {listener.redirect_uri} on this machine.")
        if open_browser and _desktop():
            webbrowser.open(install.url)
        callback = await listener.wait(timeout)
        try:
            scope = await finish_install(callback.params, install, secrets_path)
        except OAuthCallbackError as exc:
            await callback.respond(400, "Not connected", f"{exc}")
            raise
        except WinbackError as exc:
            await callback.respond(502, "Not connected", f"{exc}")
            raise
        await callback.respond(200, "Connected", f"winback saved the token for {settings.shop}. You can close this tab.")
    return scope


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The client's config file (auth = \"authorization-code\").")
@click.option("--no-browser", is_flag=True, help="Only print the install URL; do not open a browser.")
@click.option("--redirect-uri", help="Override [store] redirect_uri (a loopback http:// URL; port 0 = any free port).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=300.0, show_default=True,
              help="Seconds to wait for the approval (with --via-serve: how long the install URL stays valid).")
@click.option("--via-serve", is_flag=True,
              help="Let `winback serve` receive the approval at {public_url}/oauth/shopify/callback; print the URL and exit.")
@click.option("--public-url", help="With --via-serve: the https address of `winback serve`; default: [email] public_url.")
def connect(config_path: Path, no_browser: bool, redirect_uri: str | None, timeout: float, via_serve: bool,
            public_url: str | None) -> None:
    """Install the app on a client's Shopify store (authorization code grant) and save its token.

    Prints the install URL (and opens it on a desktop), receives the approval on a one-shot local
    listener, checks its hmac, state and shop, exchanges the code for an offline token and writes
    it (access_token, refresh_token and their expiries) into the client's secrets file (mode 0600). A forged, replayed or
    mismatched callback is refused and nothing is written. The token is an expiring one (1 h) with a
    refresh token, both saved and renewed by every later run; expiring_offline_access = false under [store]
    asks for a legacy non-expiring token instead.

    With --via-serve the approval goes to `winback serve` instead ({public_url}/oauth/shopify/callback):
    this command leaves a one-use pending install next to the config, prints the URL and exits.
    """
    config = load_config(config_path, missing_secrets_ok=True)
    settings = settings_for_connect(config)
    if redirect_uri:
        try:
            settings = ShopifySettings.model_validate({**settings.model_dump(), "redirect_uri": redirect_uri})
        except ValueError as exc:
            raise click.BadParameter(str(exc).splitlines()[-1], param_hint="--redirect-uri") from None
    secrets_path = secrets_path_for(config)
    if via_serve or public_url:
        base = public_url or (config.email.public_url if config.email else None)
        if not base:
            raise click.UsageError("--via-serve needs --public-url (or public_url under [email] in the config)")
        _connect_via_serve(config_path, settings, serve_redirect_uri(base), secrets_path, timeout, not no_browser)
        return
    scope = asyncio.run(run_connect(settings, secrets_path, timeout=timeout, open_browser=not no_browser))
    what = ("access_token (expires in 1 h, renewed automatically) and refresh_token" if settings.expiring_offline_access
            else "access_token (non-expiring)")
    click.echo(f"connected {settings.shop}: saved {what} in {secrets_path} (mode 0600)")
    if _clear_disconnected(config):
        click.echo(f"{config.store_label}: the disconnected mark of the earlier uninstall is cleared")
    if scope:
        click.echo(f"granted scopes: {scope}")
    click.echo(f"next: winback check --config {config_path}")


def _clear_disconnected(config: ClientConfig) -> bool:
    """A reinstall reconnects the store: clear the mark ``app/uninstalled`` left, else ``sync`` and
    ``run`` keep refusing it. A database that does not exist yet holds no mark (none is created)."""
    from winback.sync import open_store
    from winback.sync.connections import mark_connected

    try:
        store = open_store(config.database.url, create=False)
    except LocalStoreMissingError:
        return False
    try:
        return mark_connected(store, config.store_key)
    finally:
        store.close()


def _connect_via_serve(config_path: Path, settings: ShopifySettings, redirect_uri: str, secrets_path: Path,
                       ttl: float, open_browser: bool) -> None:
    """Leave a pending install for `winback serve` (one use, expires after ``ttl``) and print its URL."""
    install = InstallRequest(settings.model_copy(update={"redirect_uri": redirect_uri}))
    pending = PendingConnect.write(config_path, install, ttl)
    click.echo(f"Open this URL signed in to {settings.shop} and approve the app (valid {ttl:.0f} s, once):")
    click.echo(f"  {install.url}")
    click.echo(f"The approval returns to {redirect_uri}: `winback serve` saves the token in {secrets_path} (mode 0600).")
    click.echo(f"(pending install: {pending.path}; {redirect_uri} must be an allowed redirection URL of the app)")
    if open_browser and _desktop():
        webbrowser.open(install.url)
