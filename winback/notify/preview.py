"""A standalone HTML page showing one rendered email, for ``winback preview``."""

from __future__ import annotations

from html import escape

from winback.notify.templates import RenderedEmail


def render_preview_html(rendered: RenderedEmail, *, title: str | None = None) -> str:
    """A page with the subject, the HTML part in a sandboxed iframe and the plain-text part.

    The HTML part goes into ``srcdoc`` of an ``<iframe sandbox>`` (no scripts, no same-origin), so
    the email's own styles cannot leak into the page and nothing in it runs.
    """
    heading = escape(title or rendered.subject)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Preview: {heading}</title>
<style>
  body {{ margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; background: #e4e4e7; color: #18181b; }}
  header {{ padding: 16px 24px; background: #18181b; color: #fafafa; }}
  header small {{ display: block; color: #a1a1aa; text-transform: uppercase; letter-spacing: .06em; font-size: 11px; }}
  header h1 {{ margin: 2px 0 0; font-size: 18px; font-weight: 600; word-break: break-word; }}
  main {{ display: grid; grid-template-columns: minmax(320px, 660px) minmax(280px, 1fr); gap: 24px; padding: 24px; }}
  section h2 {{ margin: 0 0 8px; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: #52525b; }}
  iframe {{ width: 100%; height: 80vh; border: 0; border-radius: 8px; background: #fff; box-shadow: 0 1px 3px rgba(0,0,0,.15); }}
  pre {{ margin: 0; padding: 16px; min-height: 200px; background: #fff; border-radius: 8px; white-space: pre-wrap; word-break: break-word;
        font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; box-shadow: 0 1px 3px rgba(0,0,0,.15); }}
  @media (max-width: 900px) {{ main {{ grid-template-columns: 1fr; }} }}
</style>
</head>
<body>
<header><small>Subject</small><h1>{escape(rendered.subject)}</h1></header>
<main>
<section><h2>HTML</h2><iframe sandbox="" title="HTML part" srcdoc="{escape(rendered.html, quote=True)}"></iframe></section>
<section><h2>Plain text</h2><pre>{escape(rendered.text)}</pre></section>
</main>
</body>
</html>
"""
