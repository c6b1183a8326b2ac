"""``/u/{client}/{purpose}/{address}/{token}``: the one-click unsubscribe (RFC 8058) and its page.

* ``POST`` with the body ``List-Unsubscribe=One-Click`` (what a mail client sends) unsubscribes at
  once: no cookie, no login, no redirect.
* ``GET`` shows a page with a confirm button and changes nothing (mail scanners fetch links).
* The page's button posts ``confirm=1``; the page that follows offers an undo (``undo=1``).
* A wrong or altered link gets a 400 page and changes nothing.

The effect is local at once (the suppression list) and queued for the platform's own consent
(:mod:`winback.rules.consent`); the hub's consent loop is woken to push it.
"""

from __future__ import annotations

import asyncio
import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from winback.config import ClientConfig
from winback.notify.oneclick import LinkTarget, masked, verify
from winback.rules.consent import ConsentQueue
from winback.web.hub import Hub
from winback.web.pages import PAGE_HEADERS, bad_link, html_page, posted_form

log = logging.getLogger("winback.web")

def _bad_link() -> HTMLResponse:
    return bad_link("unsubscribe link", "Nothing was changed.", "Use the link from the email itself, or reply to the email and ask.")


def _target(request: Request, hub: Hub) -> tuple[ClientConfig, LinkTarget] | None:
    p = request.path_params
    config = hub.clients.get(p["client"])
    if config is None:
        return None
    target = verify(hub.secret, p["client"], p["purpose"], p["address"], p["token"])
    return None if target is None else (config, target)


def _store_name(config: ClientConfig) -> str:
    return html.escape(config.name)


async def page(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    found = _target(request, hub)
    if found is None:
        return _bad_link()
    config, target = found
    return html_page(
        "Unsubscribe",
        f"<p>Stop marketing emails from <b>{_store_name(config)}</b> to <b>{html.escape(target.email)}</b>?</p>"
        "<form method=post><input type=hidden name=confirm value=1>"
        "<button type=submit id=confirm>Unsubscribe</button></form>"
        "<p class=small>Order and account emails from the shop are not affected.</p>",
    )


async def act(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    form = await posted_form(request, 4096)
    if isinstance(form, Response):
        return form
    found = _target(request, hub)
    if found is None:
        return _bad_link()
    config, target = found
    store = await hub.store(config)
    queue = ConsentQueue(store)
    if form.get("List-Unsubscribe") == ["One-Click"]:
        await asyncio.to_thread(queue.unsubscribe, config.store_key, target.email, "one-click")
        hub.wake_consent()
        log.info("%s: %s unsubscribed (one-click)", config.name, masked(target.email))
        return PlainTextResponse("unsubscribed\n", headers=PAGE_HEADERS)
    if form.get("confirm") == ["1"]:
        await asyncio.to_thread(queue.unsubscribe, config.store_key, target.email, "page")
        hub.wake_consent()
        log.info("%s: %s unsubscribed (page)", config.name, masked(target.email))
        return html_page(
            "You are unsubscribed",
            f"<p id=done>{html.escape(target.email)} will get no more marketing emails from "
            f"<b>{_store_name(config)}</b>.</p>"
            "<form method=post><input type=hidden name=undo value=1>"
            "<button type=submit id=undo>Undo: keep me subscribed</button></form>",
        )
    if form.get("undo") == ["1"]:
        undone = await asyncio.to_thread(queue.undo, config.store_key, target.email)
        hub.wake_consent()
        log.info("%s: %s undid an unsubscribe (%s)", config.name, masked(target.email), undone)
        return html_page("You are subscribed again" if undone else "Nothing to undo",
                     f"<p id=undone>{html.escape(target.email)} gets marketing emails from "
                     f"<b>{_store_name(config)}</b> again.</p>" if undone else
                     "<p>This address was not unsubscribed through this link.</p>")
    return html_page("Unsubscribe", "<p>Nothing was changed: use the button on the unsubscribe page.</p>", 400)
