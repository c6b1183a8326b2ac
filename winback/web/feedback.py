"""``/f/{client}/{order}/{token}``: the answer page of a feedback request (one click, 0-10).

* ``GET ?score=N`` (a link in the email) records N for that order at once and shows a thank-you
  page with a comment form. Clicking again, or another score, updates the same answer: one row
  per order, the last score wins (:mod:`winback.sync.feedback`). ``HEAD`` (what some link
  scanners send) records nothing.
* ``GET`` without a score shows the eleven choices and records nothing.
* ``POST`` (the page's forms) records ``score`` and/or ``comment``.
* A wrong or altered link gets a 400 page and records nothing.
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from sqlalchemy import select

from winback.config import ClientConfig
from winback.notify.feedback_links import SCORES, parse_score, verify_serve
from winback.sync import LocalStore, feedback, tables
from winback.web.hub import Hub
from winback.web.pages import bad_link, html_page, posted_form

log = logging.getLogger("winback.web")

_BUTTONS = ("display:inline-block;min-width:2.2rem;margin:.15rem;padding:.45rem .3rem;border:1px solid #777;"
            "border-radius:.3rem;background:#fff;font-size:1rem;cursor:pointer")


def _bad_link() -> HTMLResponse:
    return bad_link("link", "Nothing was recorded.", "Use the link from the email itself.")


def _target(request: Request, hub: Hub) -> tuple[ClientConfig, str] | None:
    p = request.path_params
    config = hub.clients.get(p["client"])
    if config is None:
        return None
    order_id = verify_serve(hub.secret, p["client"], p["order"], p["token"])
    return None if order_id is None else (config, order_id)


def _order_name(store: LocalStore, store_key: str, order_id: str) -> str:
    orders = tables.orders
    with store.reading() as conn:
        name = conn.execute(select(orders.c.name).where(orders.c.store_key == store_key,
                                                        orders.c.id == order_id)).scalar()
    return str(name or f"#{order_id}")


def _choices(chosen: int | None) -> str:
    buttons = "".join(
        f"<button type=submit name=score value={n} id=score-{n} style='{_BUTTONS}"
        f"{';background:#222;color:#fff' if n == chosen else ''}'>{n}</button>" for n in SCORES
    )
    return (f"<form method=post>{buttons}</form>"
            "<p class=small>0 = not at all likely, 10 = extremely likely</p>")


def _thanks(config: ClientConfig, name: str, score: int, comment: str | None, saved: bool = False) -> HTMLResponse:
    store_name = html.escape(config.name)
    note = "<p id=saved>Thank you, your comment was saved.</p>" if saved else ""
    return html_page(
        "Thank you!",
        f"<p id=recorded>You rated order <b>{html.escape(name)}</b> from <b>{store_name}</b> "
        f"<b id=score>{score}</b> out of 10.</p>{note}"
        "<form method=post><p><label for=comment>Anything you'd like to tell us? (optional)</label></p>"
        f"<input type=hidden name=score value={score}>"
        "<textarea id=comment name=comment rows=4 maxlength=2000 style='width:100%'>"
        f"{html.escape(comment or '')}</textarea>"
        "<p><button type=submit id=send>Send</button></p></form>"
        f"<p class=small>Changed your mind? Pick another score:</p>{_choices(score)}",
    )


async def page(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    found = _target(request, hub)
    if found is None:
        return _bad_link()
    config, order_id = found
    store = await hub.store(config)
    name = await asyncio.to_thread(_order_name, store, config.store_key, order_id)
    raw = request.query_params.get("score")
    score = parse_score(raw)
    if raw is not None and score is None:
        return _bad_link()
    if score is None or request.method == "HEAD":
        answer = await asyncio.to_thread(feedback.answer_of, store, config.store_key, order_id)
        chosen = None if answer is None else int(answer["score"])
        return html_page("How did we do?",
                     f"<p>How likely are you to recommend <b>{html.escape(config.name)}</b> to a friend, after "
                     f"order <b>{html.escape(name)}</b>?</p>{_choices(chosen)}")
    await asyncio.to_thread(feedback.record_score, store, config.store_key, order_id, score, datetime.now(UTC))
    log.info("%s: feedback %d recorded for an order", config.name, score)
    answer = await asyncio.to_thread(feedback.answer_of, store, config.store_key, order_id)
    return _thanks(config, name, score, None if answer is None else answer["comment"])


async def act(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    form = await posted_form(request, 8192)
    if isinstance(form, Response):
        return form
    found = _target(request, hub)
    if found is None:
        return _bad_link()
    config, order_id = found
    score = parse_score((form.get("score") or [None])[0])
    if score is None:
        return html_page("How did we do?", "<p>Nothing was recorded: pick a score from 0 to 10.</p>", 400)
    store = await hub.store(config)
    now = datetime.now(UTC)
    await asyncio.to_thread(feedback.record_score, store, config.store_key, order_id, score, now)
    comment = (form.get("comment") or [None])[0]
    if comment is not None:
        await asyncio.to_thread(feedback.record_comment, store, config.store_key, order_id, comment, now)
    log.info("%s: feedback %d recorded for an order%s", config.name, score, " with a comment" if comment else "")
    name = await asyncio.to_thread(_order_name, store, config.store_key, order_id)
    answer = await asyncio.to_thread(feedback.answer_of, store, config.store_key, order_id)
    return _thanks(config, name, score, None if answer is None else answer["comment"], saved=comment is not None)
