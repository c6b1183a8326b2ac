"""A browsable HTML index of an outbox directory (what :class:`~winback.notify.OutboxSender` wrote).

:func:`write_outbox_index` extracts each ``.eml``'s HTML part, byte for byte as the customer would
get it, to ``html/<name>.html`` and writes ``index.html``: one row per message (date, recipient,
subject, rule, store) linking to the HTML and to the raw ``.eml``, with counts per rule on top.
Everything shown comes from customers' data or merchants' templates, so every piece of text is
HTML-escaped and every link is percent-encoded; the page has no scripts and loads nothing.

The rule of a message is, in order: its ``X-Winback-Rule`` header, the caller's ``labels`` (keyed
by Message-ID; the executor's report knows which action sent which message), a ``rule`` field in
``index.jsonl``; else it shows as ``unknown``. The store likewise: ``X-Winback-Store``, ``labels``,
``index.jsonl``, then the From header's display name.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from winback.errors import NotifyError
from winback.notify.outbox import write_private_file

UNKNOWN_RULE = "unknown"
HTML_DIR = "html"
INDEX_NAME = "index.html"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One ``.eml`` of the outbox as the index shows it (all text decoded, not yet escaped)."""

    eml: str
    """File name of the raw message, relative to the outbox."""
    html: str | None
    """``html/<name>.html`` relative to the outbox; ``None`` when the message has no HTML part."""
    message_id: str
    date: datetime | None
    to: str
    subject: str
    rule: str
    store: str | None
    marketing: bool
    """It carries ``List-Unsubscribe`` (only marketing mail does)."""


def write_outbox_index(
    outbox_dir: str | os.PathLike[str],
    *,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    title: str = "winback outbox",
) -> Path:
    """Write ``html/*.html`` and ``index.html`` into ``outbox_dir``; return the index's path.

    ``labels`` maps a Message-ID to ``{"rule": ..., "store": ...}`` for messages whose headers do
    not say. Rewriting is safe: HTML files of messages no longer in the outbox are removed. Files
    are private (0600) like the ``.eml`` files they come from. Raises :class:`NotifyError` if the
    directory does not exist or cannot be written.
    """
    outbox = Path(outbox_dir)
    if not outbox.is_dir():
        raise NotifyError(f"the outbox {str(outbox)!r} does not exist: run the rules with an outbox sender first")
    try:
        messages = _extract(outbox, labels or {}, _read_jsonl(outbox / "index.jsonl"))
        index = outbox / INDEX_NAME
        write_private_file(index, render_outbox_index(messages, title=title).encode("utf-8"))
    except OSError as exc:
        raise NotifyError(f"cannot write the outbox index in {str(outbox)!r}: {exc.strerror or exc}") from None
    return index


def read_outbox(
    outbox_dir: str | os.PathLike[str], *, labels: Mapping[str, Mapping[str, str]] | None = None
) -> list[OutboxMessage]:
    """The outbox's messages, sorted by date, rule and recipient (nothing is written)."""
    outbox = Path(outbox_dir)
    jsonl = _read_jsonl(outbox / "index.jsonl")
    found = [_describe(path.name, _parse(path), labels or {}, jsonl) for path in sorted(outbox.glob("*.eml"))]
    return _sorted(found)


def render_outbox_index(messages: list[OutboxMessage], *, title: str = "winback outbox") -> str:
    """The index page for ``messages`` (every piece of text escaped, every link encoded)."""
    per_rule = Counter(m.rule for m in messages)
    stores = sorted({m.store for m in messages if m.store})
    chips = "".join(
        f'<li class="chip"><span class="n">{count}</span> {_e(rule)}</li>'
        for rule, count in sorted(per_rule.items(), key=lambda item: (-item[1], item[0]))
    )
    rows = "\n".join(_row(m) for m in messages)
    empty = '<p class="empty">The outbox is empty: no rule sent anything.</p>' if not messages else ""
    store_line = f'<p class="sub">{len(messages)} email{"" if len(messages) == 1 else "s"}'
    if stores:
        store_line += " from " + ", ".join(_e(store) for store in stores)
    store_line += "</p>"
    return _PAGE.format(
        title=_e(title),
        store_line=store_line,
        chips=chips,
        rows=rows,
        empty=empty,
        table_class="" if messages else ' hidden',
    )


# --- reading ------------------------------------------------------------------------------------


def _extract(
    outbox: Path, labels: Mapping[str, Mapping[str, str]], jsonl: dict[str, dict[str, Any]]
) -> list[OutboxMessage]:
    html_dir = outbox / HTML_DIR
    html_dir.mkdir(mode=0o700, exist_ok=True)
    messages: list[OutboxMessage] = []
    wanted: set[str] = set()
    for path in sorted(outbox.glob("*.eml")):
        parsed = _parse(path)
        described = _describe(path.name, parsed, labels, jsonl)
        body = _html_part(parsed)
        if body is not None and described.html is not None:
            write_private_file(outbox / described.html, body)
            wanted.add(Path(described.html).name)
        messages.append(described)
    for stale in html_dir.glob("*.html"):
        if stale.name not in wanted:
            stale.unlink(missing_ok=True)
    return _sorted(messages)


def _parse(path: Path) -> EmailMessage:
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _html_part(message: EmailMessage) -> bytes | None:
    """The HTML part's bytes in the charset it declares (its ``<meta charset>`` says the same)."""
    part = message.get_body(preferencelist=("html",))
    if part is None or part.get_content_type() != "text/html":
        return None
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else None


def _describe(
    name: str, message: EmailMessage, labels: Mapping[str, Mapping[str, str]], jsonl: dict[str, dict[str, Any]]
) -> OutboxMessage:
    message_id = _header(message, "Message-ID")
    label = labels.get(message_id) or {}
    logged = jsonl.get(message_id) or jsonl.get(name) or {}
    rule = _header(message, "X-Winback-Rule") or label.get("rule") or str(logged.get("rule") or "") or UNKNOWN_RULE
    store = (
        _header(message, "X-Winback-Store")
        or label.get("store")
        or str(logged.get("store") or "")
        or _display_name(_header(message, "From"))
        or None
    )
    has_html = message.get_body(preferencelist=("html",)) is not None
    return OutboxMessage(
        eml=name,
        html=f"{HTML_DIR}/{Path(name).stem}.html" if has_html else None,
        message_id=message_id,
        date=_date(_header(message, "Date")) or _date_iso(logged.get("time")),
        to=_header(message, "To"),
        subject=_header(message, "Subject"),
        rule=rule,
        store=store,
        marketing=message.get("List-Unsubscribe") is not None,
    )


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except (ValueError, TypeError, IndexError, AttributeError):  # a malformed header must not hide the message
        text = ""
    return " ".join(text.split())


def _display_name(value: str) -> str:
    found = getaddresses([value])
    return found[0][0].strip() if found and found[0][0] else ""


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _read_jsonl(path: Path) -> dict[str, dict[str, Any]]:
    """``index.jsonl`` by Message-ID and by file name; the last line for a message wins (a resend)."""
    found: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return found
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            for key in ("message_id", "file"):
                if isinstance(entry.get(key), str):
                    found[entry[key]] = entry
    return found


def _sorted(messages: list[OutboxMessage]) -> list[OutboxMessage]:
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(messages, key=lambda m: (m.date or floor, m.rule, m.store or "", m.to.lower(), m.eml))


# --- rendering ----------------------------------------------------------------------------------


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _href(relative: str) -> str:
    return _e(quote(relative, safe="/"))


def _row(message: OutboxMessage) -> str:
    when = message.date.strftime("%Y-%m-%d %H:%M") if message.date else ""
    iso = message.date.isoformat() if message.date else ""
    subject = _e(message.subject or "(no subject)")
    if message.html:
        subject = f'<a class="open" href="{_href(message.html)}">{subject}</a>'
    kind = '<span class="tag">marketing</span>' if message.marketing else '<span class="tag tx">transactional</span>'
    return (
        "<tr>"
        f'<td data-label="Date"><time datetime="{_e(iso)}">{_e(when)}</time></td>'
        f'<td data-label="To">{_e(message.to)}</td>'
        f'<td data-label="Subject" class="subject">{subject}</td>'
        f'<td data-label="Rule"><span class="rule">{_e(message.rule)}</span><br>{kind}</td>'
        f'<td data-label="Store">{_e(message.store or "")}</td>'
        f'<td data-label="Raw"><a class="raw" href="{_href(message.eml)}" download>.eml</a></td>'
        "</tr>"
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
:root {{ color-scheme: light; --ink:#18181b; --muted:#71717a; --line:#e4e4e7; --bg:#f4f4f5; --accent:#2563eb; }}
* {{ box-sizing: border-box; }}
body {{ margin:0; background:var(--bg); color:var(--ink);
  font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }}
main {{ max-width:1200px; margin:0 auto; padding:24px 16px 48px; }}
h1 {{ margin:0 0 4px; font-size:24px; }}
.sub {{ margin:0 0 16px; color:var(--muted); }}
.chips {{ list-style:none; margin:0 0 20px; padding:0; display:flex; flex-wrap:wrap; gap:8px; }}
.chip {{ background:#fff; border:1px solid var(--line); border-radius:999px; padding:4px 12px; }}
.chip .n {{ font-weight:700; }}
.card {{ background:#fff; border:1px solid var(--line); border-radius:10px; overflow:hidden; }}
table {{ width:100%; border-collapse:collapse; }}
th, td {{ text-align:left; padding:10px 12px; border-bottom:1px solid var(--line); vertical-align:top; }}
th {{ font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); background:#fafafa; }}
tr:last-child td {{ border-bottom:0; }}
tbody tr:hover {{ background:#f8fafc; }}
td {{ overflow-wrap:anywhere; }}
.subject a {{ color:var(--accent); text-decoration:none; font-weight:600; }}
.subject a:hover {{ text-decoration:underline; }}
.rule {{ font-family:ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:13px; white-space:nowrap; }}
.tag {{ display:inline-block; margin-top:2px; font-size:11px; padding:1px 6px; border-radius:4px;
  background:#fef3c7; color:#92400e; }}
.tag.tx {{ background:#e0f2fe; color:#075985; }}
.raw {{ color:var(--muted); white-space:nowrap; }}
time {{ white-space:nowrap; color:var(--muted); }}
.empty {{ background:#fff; border:1px solid var(--line); border-radius:10px; padding:24px; }}
.hidden {{ display:none; }}
@media (max-width: 760px) {{
  thead {{ display:none; }}
  table, tbody, tr, td {{ display:block; width:100%; }}
  tr {{ border-bottom:1px solid var(--line); padding:8px 0; }}
  td {{ border:0; padding:4px 12px; }}
  td::before {{ content:attr(data-label); display:inline-block; min-width:64px; color:var(--muted);
    font-size:12px; text-transform:uppercase; }}
}}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
{store_line}
<ul class="chips">{chips}</ul>
{empty}
<div class="card{table_class}">
<table>
<thead><tr><th>Date</th><th>To</th><th>Subject</th><th>Rule</th><th>Store</th><th>Raw</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</div>
</main>
</body>
</html>
"""
