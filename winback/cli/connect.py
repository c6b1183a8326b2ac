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

from winback.config import ClientConfig, load_config, save_secret, secrets_file_of
from winback.connectors.callback_listener import CallbackListener
from winback.connectors.shopify.oauth import InstallRequest, exchange_code, verify_callback
from winback.connectors.shopify.settings import ShopifySettings
from winback.errors import ConfigError, OAuthCallbackError, WinbackError
from winback.secrets import register_secret


def _settings_for_connect(config: ClientConfig) -> ShopifySettings:
    settings = config.store.settings
    if config.platform != "shopify" or not isinstance(settings, ShopifySettings):
        raise ConfigError(f"`winback connect` installs Shopify apps; this store's platform is {config.platform}",
                          path=str(config.path), key="store.platform")
    if settings.auth_mode != "authorization-code":
        raise ConfigError(
            f'`winback connect` is for auth = "authorization-code" (this store uses {settings.auth_mode}): set '
            'auth = "authorization-code", client_id and client_secret under [store] (see `winback init --auth`)',
            path=str(config.path), key="store.auth",
        )
    return settings


def _secrets_path(config: ClientConfig) -> Path:
    path = secrets_file_of(config.path)
    if path is None:
        name = f"{config.path.stem}.secrets.toml"
        raise ConfigError(
            f'`winback connect` saves the token in the secrets file: add secrets_file = "{name}" at the top '
            "of this file (winback creates it, mode 0600)",
            path=str(config.path), key="secrets_file",
        )
    source = config.sources.get("store.access_token")
    if config.store.settings.access_token is not None and (source is None or source.path != str(path)):  # type: ignore[attr-defined]
        raise ConfigError(
            "access_token is set in this file; remove it so the token `winback connect` gets is read from the "
            f"secrets file {path}", path=str(config.path), key="store.access_token",
        )
    return path


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
            code = verify_callback(callback.params, install)
        except OAuthCallbackError as exc:
            await callback.respond(400, "Not connected", f"{exc}")
            raise
        try:
            token, scope = await exchange_code(settings, code)
        except WinbackError as exc:
            await callback.respond(502, "Not connected", f"{exc}")
            raise
        register_secret(token)
        save_secret(secrets_path, "access_token", token)
        await callback.respond(200, "Connected", f"winback saved the token for {settings.shop}. You can close this tab.")
    return scope


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The client's config file (auth = \"authorization-code\").")
@click.option("--no-browser", is_flag=True, help="Only print the install URL; do not open a browser.")
@click.option("--redirect-uri", help="Override [store] redirect_uri (a loopback http:// URL; port 0 = any free port).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=300.0, show_default=True,
              help="Seconds to wait for the approval.")
def connect(config_path: Path, no_browser: bool, redirect_uri: str | None, timeout: float) -> None:
    """Install the app on a client's Shopify store (authorization code grant) and save its token.

    Prints the install URL (and opens it on a desktop), receives the approval on a one-shot local
    listener, checks its hmac, state and shop, exchanges the code for an offline token and writes
    it as access_token into the client's secrets file (mode 0600). A forged, replayed or
    mismatched callback is refused and nothing is written.
    """
    config = load_config(config_path, missing_secrets_ok=True)
    settings = _settings_for_connect(config)
    if redirect_uri:
        try:
            settings = ShopifySettings.model_validate({**settings.model_dump(), "redirect_uri": redirect_uri})
        except ValueError as exc:
            raise click.BadParameter(str(exc).splitlines()[-1], param_hint="--redirect-uri") from None
    secrets_path = _secrets_path(config)
    scope = asyncio.run(run_connect(settings, secrets_path, timeout=timeout, open_browser=not no_browser))
    click.echo(f"connected {settings.shop}: saved access_token in {secrets_path} (mode 0600)")
    if scope:
        click.echo(f"granted scopes: {scope}")
    click.echo(f"next: winback check --config {config_path}")
