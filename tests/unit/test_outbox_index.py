"""The outbox's HTML index: extracted HTML parts, links, counts per rule, escaping of hostile text."""

from __future__ import annotations

import re
import stat
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from winback.errors import NotifyError
from winback.notify import OutboxSender, RenderedEmail, build_message
from winback.notify.outbox_index import read_outbox, write_outbox_index

HOSTILE_NAME = '<img src=x onerror=alert(1)> "Eve" & co'
HOSTILE_SUBJECT = "<script>alert('subject')</script> & 50% off \"now\""


def message(key: str, *, to: str = "anna@example.com", name: str | None = "Anna", subject: str = "Hello",
            html: str = "<p>Hi <b>there</b> Ψ</p>", marketing: bool = False, rule: str | None = None) -> EmailMessage:
    built = build_message(
        RenderedEmail(subject=subject, html=html, text="Hi\n"),
        from_address="hello@acme.example",
        from_name="Acme Apparel",
        to_address=to,
        to_name=name,
        message_key=key,
        marketing=marketing,
        unsubscribe_mailto="unsubscribe@acme.example" if marketing else None,
    )
    if rule is not None:
        built["X-Winback-Rule"] = rule
    return built


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [value for name, value in attrs if name == "href" and value]


def parsed(page: str) -> Links:
    links = Links()
    links.feed(page)
    return links


async def fill(outbox: Path, *messages: EmailMessage) -> list[str]:
    sender = OutboxSender(outbox)
    return [await sender.send(m) for m in messages]


async def test_index_links_every_message_to_its_html_and_eml(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    html = "<!DOCTYPE html><html><body><p>Caf\u00e9 \u00d8rsted \u2014 <i>welcome back</i></p></body></html>"
    ids = await fill(outbox, message("r:1", html=html, rule="back_to_bestsellers", marketing=True),
                     message("r:2", to="bob@example.com", rule="auto_create_accounts"))

    index = write_outbox_index(outbox)

    assert index == outbox / "index.html"
    assert stat.S_IMODE(index.stat().st_mode) == 0o600
    links = parsed(index.read_text(encoding="utf-8"))
    emls = sorted(p.name for p in outbox.glob("*.eml"))
    assert sorted(h for h in links.hrefs if h.endswith(".eml")) == emls
    htmls = sorted(h for h in links.hrefs if h.startswith("html/"))
    assert htmls == sorted(f"html/{Path(name).stem}.html" for name in emls)
    for href in htmls:
        assert (outbox / href).is_file()
        assert stat.S_IMODE((outbox / href).stat().st_mode) == 0o600
    first = next(m for m in read_outbox(outbox) if m.message_id == ids[0])
    assert (outbox / str(first.html)).read_text(encoding="utf-8") == html + "\n"  # the email's own HTML, as is
    assert first.marketing and first.store == "Acme Apparel"
    assert "script" not in links.tags


async def test_counts_per_rule_from_headers_labels_and_unknown(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    ids = await fill(
        outbox,
        message("a:1", to="a1@example.com", rule="back_to_bestsellers"),
        message("a:2", to="a2@example.com", rule="back_to_bestsellers"),
        message("b:1", to="b1@example.com"),
        message("c:1", to="c1@example.com"),
    )

    page = write_outbox_index(outbox, labels={ids[2]: {"rule": "discount_codes", "store": "Shop B"}}).read_text("utf-8")

    chips = {rule: int(n) for n, rule in re.findall(r'<span class="n">(\d+)</span> ([\w]+)</li>', page)}
    assert chips == {"back_to_bestsellers": 2, "discount_codes": 1, "unknown": 1}
    by_id = {m.message_id: m for m in read_outbox(outbox, labels={ids[2]: {"rule": "discount_codes", "store": "Shop B"}})}
    assert by_id[ids[2]].store == "Shop B"
    assert by_id[ids[3]].rule == "unknown"
    assert "4 emails from Acme Apparel, Shop B" in page


async def test_hostile_names_and_subjects_are_escaped(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    await fill(outbox, message("x:1", name=HOSTILE_NAME, subject=HOSTILE_SUBJECT, rule="<b>rule</b>"))

    page = write_outbox_index(outbox, title="<i>title</i>").read_text(encoding="utf-8")

    links = parsed(page)
    assert not {"script", "img", "b", "i"} & set(links.tags)
    assert "&lt;script&gt;alert(&#x27;subject&#x27;)&lt;/script&gt; &amp; 50% off &quot;now&quot;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;rule&lt;/b&gt;" in page and "&lt;i&gt;title&lt;/i&gt;" in page


async def test_rewrite_drops_html_of_messages_gone_from_the_outbox(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    await fill(outbox, message("k:1", to="a@example.com"), message("k:2", to="b@example.com"))
    write_outbox_index(outbox)
    gone = min(outbox.glob("*.eml"))
    gone.unlink()

    page = write_outbox_index(outbox).read_text(encoding="utf-8")

    assert sorted(p.stem for p in (outbox / "html").glob("*.html")) == [p.stem for p in outbox.glob("*.eml")]
    assert gone.name not in page


def test_empty_outbox_says_so_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    page = write_outbox_index(tmp_path / "empty").read_text(encoding="utf-8")
    assert "The outbox is empty" in page
    with pytest.raises(NotifyError, match="does not exist"):
        write_outbox_index(tmp_path / "missing")
