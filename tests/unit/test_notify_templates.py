"""winback.notify templates: defaults render, HTML is escaped, the sandbox holds, overrides win."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from winback.errors import NotifyError
from winback.notify import (
    available_templates,
    format_date,
    format_price,
    render_email,
    render_preview_html,
)
from winback.notify.templates import (
    RenderedEmail,
    first_name,
    one_line,
    safe_url,
    since_text,
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def store() -> dict[str, Any]:
    return {"name": "Acme & Co", "url": "https://acme.example", "logo_url": "https://acme.example/logo.png", "currency": "EUR"}


def customer(first_name: str | None = "Anna") -> dict[str, Any]:
    return {"first_name": first_name, "last_name": "Li", "display_name": "Anna Li", "email": "anna@example.com"}


def bestsellers_context(**changes: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "store": store(),
        "customer": customer(),
        "products": [
            {"title": "Blue Mug", "url": "https://acme.example/p/mug", "image_url": "https://acme.example/i/mug.jpg", "price": "12.5", "currency": "EUR"},
            {"title": "Tote Bag", "url": "https://acme.example/p/tote", "image_url": None, "price": "1234", "currency": "CHF"},
            {"title": "Socks", "url": "https://acme.example/p/socks", "image_url": "https://acme.example/i/s.jpg", "price": "8", "currency": "USD"},
        ],
        "last_order_at": "2024-03-12",
        "days_since": 183,
        "unsubscribe_url": "https://acme.example/unsubscribe?e=anna%40example.com&t=abc",
    }
    context.update(changes)
    return context


def test_back_to_bestsellers_renders_products_prices_and_footer() -> None:
    email = render_email("back_to_bestsellers", bestsellers_context())

    assert email.subject == "Anna, we've missed you at Acme & Co"
    for part in (email.html, email.text):
        assert "Blue Mug" in part and "€12.50" in part and "1,234.00 CHF" in part and "$8.00" in part
        assert "about six months since your last order" in part and "12 March 2024" in part
        assert "https://acme.example/unsubscribe?e=anna%40example.com&amp;t=abc" in part or (
            "https://acme.example/unsubscribe?e=anna%40example.com&t=abc" in part
        )
    assert 'src="https://acme.example/logo.png"' in email.html
    assert 'src="https://acme.example/i/mug.jpg"' in email.html
    assert "max-width:600px" in email.html and "Acme &amp; Co" in email.html
    assert "Unsubscribe" in email.html
    assert "shopped at Acme & Co" in email.text


def test_back_to_bestsellers_with_a_discount() -> None:
    discount = {"code": "BACK15", "kind": "percentage", "value": "15", "ends_at": "2024-08-01T00:00:00Z"}
    email = render_email("back_to_bestsellers", bestsellers_context(discount=discount))

    assert email.subject == "Anna, 15% off your next order at Acme & Co"
    for part in (email.html, email.text):
        assert "BACK15" in part and "1 August 2024" in part


def test_discount_code_and_account_created_render() -> None:
    discount = {"code": "TEN", "kind": "fixed_amount", "value": "10", "ends_at": None}
    email = render_email(
        "discount_code",
        {"store": store(), "customer": {**customer(None), "display_name": None}, "discount": discount, "reason_text": "Thanks for 3 orders!",
         "unsubscribe_url": "https://acme.example/u"},
    )
    assert email.subject == "€10.00 off at Acme & Co: your code TEN"
    assert "Thanks for 3 orders!" in email.text and "TEN" in email.html and email.text.startswith("Hi there,")

    account = render_email(
        "account_created",
        {"store": store(), "customer": customer(), "sign_in_url": "https://acme.example/account/login"},
    )
    assert account.subject == "Your Acme & Co account is ready"
    assert 'href="https://acme.example/account/login"' in account.html
    assert "anna@example.com" in account.text and "one-time code" in account.text


def nameless(email: str = "chloe.fitzgerald@outlook.com", **changes: Any) -> dict[str, Any]:
    """A guest known only by their address: what ``customer_context`` gives a nameless buyer."""
    return {"first_name": None, "last_name": None, "display_name": email, "email": email, **changes}


ALL_TEMPLATES = {
    "back_to_bestsellers": lambda who: bestsellers_context(customer=who),
    "discount_code": lambda who: {
        "store": store(), "customer": who, "reason_text": "Thanks!", "unsubscribe_url": "https://acme.example/u",
        "discount": {"code": "TEN", "kind": "percentage", "value": "10", "ends_at": None},
    },
    "account_created": lambda who: {"store": store(), "customer": who, "sign_in_url": "https://acme.example/login"},
}


@pytest.mark.parametrize("template", sorted(ALL_TEMPLATES))
@pytest.mark.parametrize(
    "who",
    [nameless(), nameless(first_name=""), nameless(first_name="  "), nameless(first_name="chloe@outlook.com")],
    ids=["no-first-name", "empty", "blank", "address-as-name"],
)
def test_a_customer_without_a_first_name_is_greeted_hi_there_never_by_address(template: str, who: dict[str, Any]) -> None:
    email = render_email(template, ALL_TEMPLATES[template](who))

    assert email.text.startswith("Hi there,\n")
    assert ">Hi there,</h1>" in email.html
    for part in (email.subject, email.html, email.text):
        assert not re.search(r"Hi [^ ,]*@", part) and not re.search(r"[^ ]+@[^ ]+, ", email.subject)


@pytest.mark.parametrize("template", sorted(ALL_TEMPLATES))
def test_a_customer_with_a_first_name_is_greeted_by_it(template: str) -> None:
    email = render_email(template, ALL_TEMPLATES[template](nameless(first_name=" Chloë ")))

    assert email.text.startswith("Hi Chloë,\n") and ">Hi Chloë,</h1>" in email.html


def test_first_name_filter_uses_only_a_usable_first_name() -> None:
    assert first_name({"first_name": "Anna", "display_name": "Anna Li"}) == "Anna"
    assert first_name({"display_name": "Anna Li"}) == ""
    assert first_name({"first_name": "a@b.example"}) == ""
    assert first_name({"first_name": "Mary\nKate"}) == "Mary Kate"


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, "less than a day"), (1, "a day"), (6, "6 days"), (13, "13 days"), (14, "about two weeks"),
        (21, "about three weeks"), (30, "about a month"), (45, "about a month"), (61, "about two months"),
        (183, "about six months"), ("243", "about eight months"), (300, "about ten months"),
        (335, "almost a year"), (365, "about a year"), (400, "over a year"), (548, "about a year and a half"),
        (705, "almost two years"), (730, "about two years"), (800, "over two years"),
        (1000, "almost three years"), (4000, "almost 11 years"),
    ],
)
def test_since_text_says_durations_as_a_person_would(days: Any, expected: str) -> None:
    assert since_text(days) == expected


def test_since_text_rejects_what_is_not_a_day_count() -> None:
    with pytest.raises(NotifyError, match="whole number of days"):
        since_text("soon")


def test_bestsellers_say_how_long_in_words_not_a_day_count() -> None:
    email = render_email("back_to_bestsellers", bestsellers_context(days_since=705, last_order_at="2024-11-26"))

    for part in (email.html, email.text):
        assert "It's been almost two years since your last order at Acme" in part and "705" not in part


def test_a_logo_stands_for_the_store_name_and_the_name_is_not_repeated() -> None:
    with_logo = render_email("account_created", ALL_TEMPLATES["account_created"](customer()))
    header = with_logo.html.split("<body", 1)[1].split("<td style=\"background-color:#ffffff", 1)[0]

    assert re.search(r'<img src="https://acme.example/logo.png" alt="Acme &amp; Co"', header)
    assert header.count("Acme &amp; Co") == 1  # the logo's alt text only

    context = ALL_TEMPLATES["account_created"](customer())
    context["store"] = {**store(), "logo_url": None}
    html = render_email("account_created", context).html
    header = html.split("<body", 1)[1].split("<td style=\"background-color:#ffffff", 1)[0]
    assert "<img" not in header and header.count("Acme &amp; Co") == 1


def test_product_images_keep_a_fixed_box_with_readable_alt_text_when_blocked() -> None:
    email = render_email("back_to_bestsellers", bestsellers_context())
    (mug,) = re.findall(r'<img src="https://acme.example/i/mug.jpg"[^>]*>', email.html)

    assert 'alt="Blue Mug"' in mug and 'width="236"' in mug and 'height="236"' in mug
    style = re.search(r'style="([^"]*)"', mug).group(1)  # type: ignore[union-attr]
    for rule in ("height:236px", "background-color:", "font-family:", "color:", "text-align:center"):
        assert rule in style, (rule, style)
    # the card without an image keeps the same box, so the row stays aligned
    assert email.html.count('height="236" bgcolor="#f4f4f5"') == 3


def test_transactional_mail_without_an_unsubscribe_url_offers_none_and_says_why() -> None:
    email = render_email("account_created", ALL_TEMPLATES["account_created"](customer()))

    for part in (email.html, email.text):
        assert "nsubscribe" not in part
        assert "because you placed an order at Acme" in part


def test_builtin_templates_are_complete() -> None:
    assert {"back_to_bestsellers", "discount_code", "account_created"} <= set(available_templates())


def test_customer_and_product_markup_is_escaped_in_html_and_literal_in_text() -> None:
    context = bestsellers_context(customer=customer(SCRIPT))
    context["products"][0]["title"] = IMG
    email = render_email("back_to_bestsellers", context)

    assert "<script>" not in email.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "<img src=x" not in email.html and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in email.html
    assert SCRIPT in email.text and IMG in email.text
    assert SCRIPT in email.subject  # subjects are plain text; the message layer encodes them


def test_links_that_are_not_http_become_inert() -> None:
    context = bestsellers_context()
    context["products"][0]["url"] = "javascript:alert(1)"
    email = render_email("back_to_bestsellers", context)

    assert "javascript:" not in email.html
    assert safe_url("JavaScript:alert(1)") == "#" and safe_url("https://x.example/a?b=1") == "https://x.example/a?b=1"
    assert safe_url("mailto:a@b.example") == "mailto:a@b.example" and safe_url("https://x\n.example") == "#"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ store.__class__ }}",
        "{% do products.append(1) %}{{ products.append(1) }}",
    ],
)
def test_override_cannot_escape_the_sandbox(tmp_path: Path, source: str) -> None:
    (tmp_path / "evil.subject.txt").write_text(source.replace("{% do products.append(1) %}", ""), encoding="utf-8")
    (tmp_path / "evil.html").write_text("x", encoding="utf-8")
    (tmp_path / "evil.txt").write_text("x", encoding="utf-8")

    with pytest.raises(NotifyError, match="evil.subject.txt"):
        render_email("evil", {"store": {}, "products": []}, overrides_dir=tmp_path)


def test_subject_is_one_line_whatever_the_template_does(tmp_path: Path) -> None:
    (tmp_path / "back_to_bestsellers.subject.txt").write_text(
        "Hello {{ customer.first_name }}\r\nBcc: victim@example.com\n\n", encoding="utf-8"
    )
    email = render_email("back_to_bestsellers", bestsellers_context(customer=customer("A\rB\nC\u2028D")), overrides_dir=tmp_path)

    assert email.subject == "Hello A B C D Bcc: victim@example.com"
    assert "\r" not in email.subject and "\n" not in email.subject
    assert one_line(" a\t\x00b\x85c ") == "a b c"


def test_override_directory_takes_precedence_part_by_part(tmp_path: Path) -> None:
    (tmp_path / "back_to_bestsellers.subject.txt").write_text("Custom for {{ store.name }}", encoding="utf-8")
    (tmp_path / "back_to_bestsellers.txt").write_text("Plain {{ customer.first_name }}", encoding="utf-8")

    email = render_email("back_to_bestsellers", bestsellers_context(), overrides_dir=tmp_path)

    assert email.subject == "Custom for Acme & Co"
    assert email.text == "Plain Anna\n"
    assert "Blue Mug" in email.html  # the default HTML part still applies


def test_override_may_extend_the_default_layout(tmp_path: Path) -> None:
    (tmp_path / "thanks.subject.txt").write_text("Thanks", encoding="utf-8")
    (tmp_path / "thanks.txt").write_text("Thanks {{ customer.first_name }}", encoding="utf-8")
    (tmp_path / "thanks.html").write_text(
        '{% extends "_layout.html" %}{% block content %}<p>Thanks {{ customer.first_name }}</p>{% endblock %}',
        encoding="utf-8",
    )
    email = render_email("thanks", {"store": store(), "customer": customer(SCRIPT)}, overrides_dir=tmp_path)

    assert "<p>Thanks &lt;script&gt;" in email.html and "max-width:600px" in email.html
    assert "thanks" in available_templates(tmp_path)


def test_missing_template_names_it_and_the_override_dir(tmp_path: Path) -> None:
    with pytest.raises(NotifyError) as info:
        render_email("no_such_email", {}, overrides_dir=tmp_path)
    message = str(info.value)
    assert "no_such_email" in message and str(tmp_path) in message and "back_to_bestsellers" in message

    with pytest.raises(NotifyError, match="no_such_email.*templates_dir"):
        render_email("no_such_email", {})


def test_missing_override_dir_and_bad_names_are_errors(tmp_path: Path) -> None:
    with pytest.raises(NotifyError, match="does not exist"):
        render_email("back_to_bestsellers", bestsellers_context(), overrides_dir=tmp_path / "absent")
    with pytest.raises(NotifyError, match="invalid email template name"):
        render_email("../etc/passwd", {})


def test_missing_context_key_is_a_notify_error() -> None:
    context = bestsellers_context()
    del context["days_since"]
    with pytest.raises(NotifyError, match="days_since"):
        render_email("back_to_bestsellers", context)


def test_syntax_error_in_override_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "back_to_bestsellers.subject.txt").write_text("ok\n{% if %}", encoding="utf-8")
    with pytest.raises(NotifyError, match=r"back_to_bestsellers.subject.txt.*line 2"):
        render_email("back_to_bestsellers", bestsellers_context(), overrides_dir=tmp_path)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("12.5", "EUR", "€12.50"),
        ("12.50", "usd", "$12.50"),
        ("12.5", "CHF", "12.50 CHF"),
        ("1234567.891", "GBP", "£1,234,567.89"),
        ("0.005", "EUR", "€0.01"),
        ("1500", "JPY", "¥1,500"),
        ("-3", "EUR", "-€3.00"),
        ("7", None, "7.00"),
        (5, "SEK", "5.00 SEK"),
    ],
)
def test_price_formatting(amount: Any, currency: str | None, expected: str) -> None:
    assert format_price(amount, currency) == expected


def test_price_and_date_reject_garbage() -> None:
    with pytest.raises(NotifyError, match="not a number"):
        format_price("twelve", "EUR")
    with pytest.raises(NotifyError, match="ISO date"):
        format_date("last tuesday")
    assert format_date("2024-03-12T10:00:00+00:00", "short") == "12 Mar 2024"


def test_preview_page_shows_subject_html_and_text() -> None:
    rendered = RenderedEmail(subject="Hi <b>", html='<p class="x">Hello & bye</p>', text="Hello <plain>")
    page = render_preview_html(rendered)

    assert page.startswith("<!DOCTYPE html>")
    assert "Hi &lt;b&gt;" in page
    srcdoc = page.split('srcdoc="', 1)[1].split('"', 1)[0]
    assert html.unescape(srcdoc) == rendered.html
    assert "<iframe sandbox=" in page and "Hello &lt;plain&gt;" in page
