"""The small HTML pages ``winback serve`` answers with (unsubscribe, feedback, OAuth): one style
and one set of headers, so none of them is cached, indexed or allowed to load anything."""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

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
