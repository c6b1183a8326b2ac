"""The small HTML pages ``winback serve`` answers with (unsubscribe, feedback, OAuth): one style
and one set of headers, so none of them is cached, indexed or allowed to load anything."""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from winback.web.webhooks import BodyTooLarge, read_body

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
          "button{font-size:1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:1px solid #555;background:#fff;cursor:pointer}"
          "p.small{color:#666;font-size:.9rem}")
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"}


def html_page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A page titled ``title`` (escaped) around ``body`` (HTML the caller has escaped)."""
    text = (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f"content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return HTMLResponse(text, status_code=status, headers=PAGE_HEADERS)


def bad_link(link: str, nothing: str, advice: str) -> HTMLResponse:
    """The 400 page of a signed link that is incomplete or was altered: the page says that
    ``nothing`` happened ("Nothing was changed.") and what to do instead."""
    return html_page("This link does not work",
                     f"<p>The {link} is incomplete or was changed. {nothing}</p><p class=small>{advice}</p>", 400)


async def posted_form(request: Request, limit: int) -> dict[str, list[str]] | Response:
    """A page's urlencoded form, or the 413 answer when the body is over ``limit`` bytes (refused
    before the link is even checked, like every body ``winback serve`` reads)."""
    try:
        body = await read_body(request, limit)
    except BodyTooLarge:
        return PlainTextResponse("body too large", status_code=413)
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
