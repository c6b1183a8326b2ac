"""``GET /oauth/shopify/callback``: where an agency's client approves the app when the install URL
came from ``winback connect --via-serve``.

The callback must match a pending install that ``connect`` left next to a client's config (same
shop, same ``state``, not expired); then the checks and the exchange are those of ``winback
connect`` itself (:func:`winback.connect.finish_install`: hmac in constant time, shop hostname,
state, timestamp), the pending install is spent, and the offline token goes into that client's
secrets file (0600, atomic). Anything forged, replayed, expired or mismatched gets a 400 page and
nothing is written.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from winback.config import load_config
from winback.connect import PendingConnect, finish_install, secrets_path_for, settings_for_connect
from winback.connectors.shopify.oauth import InstallRequest
from winback.errors import ConfigError, OAuthCallbackError, WinbackError
from winback.sync.connections import mark_connected
from winback.web.hub import Hub
from winback.web.pages import html_page

log = logging.getLogger("winback.web")


def _refused(message: str, status: int = 400) -> HTMLResponse:
    return html_page("Not connected", f"<p>{html.escape(message)}</p>", status)


async def shopify_callback(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    params = dict(request.query_params)
    shop, state = params.get("shop", "").strip().lower(), params.get("state", "")
    record = await asyncio.to_thread(PendingConnect.find, hub.config_dir, shop, state) if state else None
    if record is None:
        log.warning("refused an install callback that matches no pending `winback connect`")
        return _refused("No `winback connect` is waiting for this store and link (forged, replayed, or already "
                        "used): nothing was saved. Run `winback connect --via-serve` again and use the new URL.")
    if record.expires_at < time.time():
        record.claim()
        return _refused(f"{record.shop}: this install link expired: nothing was saved. Run `winback connect "
                        "--via-serve` again and use the new URL.")
    try:
        config = await asyncio.to_thread(load_config, record.config_path, missing_secrets_ok=True)
        settings = settings_for_connect(config)
        secrets_path = secrets_path_for(config)
    except ConfigError as exc:
        log.error("install callback for %s: %s", record.shop, exc)
        return _refused(f"{record.shop}: the client's config cannot be used ({exc}): nothing was saved.", 500)
    install = InstallRequest(settings.model_copy(update={"redirect_uri": record.redirect_uri}), state=state)
    try:
        scope = await finish_install(params, install, secrets_path, claim=record)
    except OAuthCallbackError as exc:
        log.warning("%s", exc)
        return _refused(str(exc))
    except WinbackError as exc:
        log.error("install callback for %s: %s", record.shop, exc)
        return _refused(str(exc), 502)
    log.info("%s: connected; saved access_token in %s", config.name, secrets_path)
    try:  # a reinstall after app/uninstalled: sync and run may reach the store again
        store = await hub.store(config)
        if await asyncio.to_thread(mark_connected, store, config.store_key):
            log.info("%s: the disconnected mark of the earlier uninstall is cleared", config.name)
    except WinbackError as exc:
        log.error("%s: connected, but the disconnected mark could not be cleared: %s", config.name, exc)
    try:
        hub.add(await asyncio.to_thread(load_config, record.config_path))
    except ConfigError as exc:
        log.warning("%s: connected, but its config does not load yet: %s", config.name, exc)
    granted = f" Granted scopes: {html.escape(scope)}." if scope else ""
    return html_page("Connected", f"<p>winback saved the token for {html.escape(record.shop)}.{granted} "
                              "You can close this tab.</p>")
