"""winback.notify.build_message: safe headers, honest encodings, unsubscribe headers, stable ids."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, message_from_string, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Any

import pytest

from winback.errors import NotifyError, UnsendableAddressError
from winback.notify import RenderedEmail, build_message, check_address, message_bytes, message_id

RENDERED = RenderedEmail(subject="We've missed you", html="<p>Héllo <b>there</b></p>", text="Héllo there\n")
UNSUB = "https://acme.example/unsubscribe?e=anna%40example.com&t=" + "0123456789abcdef" * 4


def build(**changes: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "from_address": "hello@acme.example",
        "from_name": "Acme",
        "to_address": "anna@example.com",
        "to_name": "Anna",
        "message_key": "back_to_bestsellers:abc",
        "marketing": False,
    }
    arguments.update(changes)
    rendered = arguments.pop("rendered", RENDERED)
    return build_message(rendered, **arguments)


def wire(message: EmailMessage) -> EmailMessage:
    """The message as a receiver sees it: serialised to bytes and parsed back."""
    parsed = message_from_bytes(message_bytes(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def assert_single_headers(parsed: EmailMessage) -> None:
    for name in ("From", "To", "Subject", "Message-ID", "Date"):
        assert len(parsed.get_all(name) or []) == 1, name
    names = {key.lower() for key in parsed}
    assert not names & {"bcc", "cc", "x-injected"}, names


def test_multipart_alternative_text_then_html_in_utf8() -> None:
    parsed = wire(build(date=datetime(2024, 5, 1, 12, 0, tzinfo=UTC)))

    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = list(parsed.iter_parts())
    assert plain.get_content_type() == "text/plain" and plain.get_content_charset() == "utf-8"
    assert html.get_content_type() == "text/html" and html.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"  # 7-bit safe on any server
    assert plain.get_content().replace("\r\n", "\n") == "Héllo there\n"
    assert html.get_content().replace("\r\n", "\n") == "<p>Héllo <b>there</b></p>\n"
    assert str(parsed["From"]) == "Acme <hello@acme.example>"
    assert str(parsed["To"]) == "Anna <anna@example.com>"
    assert str(parsed["Subject"]) == "We've missed you"
    assert str(parsed["Date"]) == "Wed, 01 May 2024 12:00:00 +0000"
    assert_single_headers(parsed)


@pytest.mark.parametrize(
    "field",
    ["to_name", "from_name"],
)
@pytest.mark.parametrize(
    "evil",
    [
        "Anna\r\nBcc: victim@example.com",
        "Anna\nBcc: victim@example.com",
        "Anna\rX-Injected: 1",
        "Anna\x00\x0b\x1b\u2028Bcc: victim@example.com",
        "Anna\r\n\r\n<html>body</html>",
    ],
)
def test_control_characters_in_names_cannot_inject_headers(field: str, evil: str) -> None:
    parsed = wire(build(**{field: evil}))

    assert_single_headers(parsed)
    header = parsed["To"] if field == "to_name" else parsed["From"]
    name = header.addresses[0].display_name
    assert "\r" not in name and "\n" not in name and name.startswith("Anna")
    assert parsed.get_content_type() == "multipart/alternative"


def test_control_characters_in_the_subject_cannot_inject_headers() -> None:
    rendered = RenderedEmail(subject="Hi\r\nBcc: victim@example.com\r\n\r\nbody", html="<p>x</p>", text="x")
    parsed = wire(build(rendered=rendered))

    assert_single_headers(parsed)
    assert str(parsed["Subject"]) == "Hi Bcc: victim@example.com body"


@pytest.mark.parametrize(
    "address",
    [
        "anna@example.com\r\nBcc: victim@example.com",
        "anna@example.com\nBcc:x@y.z",
        "anna@exa\x00mple.com",
        "anna @example.com",
        "anna@example.com, victim@example.com",
        "anna",
        "@example.com",
        "anna@",
        "a@b@example.com",
        "Victim <victim@example.com>",
        "",
    ],
)
def test_bad_recipient_addresses_are_refused(address: str) -> None:
    with pytest.raises(NotifyError, match="to address"):
        build(to_address=address)


def test_bad_sender_and_reply_to_addresses_are_refused() -> None:
    with pytest.raises(NotifyError, match="from address"):
        build(from_address="hello@acme.example\r\nBcc: x@y.z")
    with pytest.raises(NotifyError, match="reply-to address"):
        build(reply_to="help@acme.example\nBcc: x@y.z")


def test_from_and_reply_to_may_be_written_in_display_form() -> None:
    parsed = wire(build(from_address="Acme Shop <hello@acme.example>", from_name=None, reply_to="Help <help@acme.example>"))

    assert str(parsed["From"]) == "Acme Shop <hello@acme.example>"
    assert str(parsed["Reply-To"]) == "Help <help@acme.example>"


@pytest.mark.parametrize("name", ["Ψυχή", "李小龙", "عربى", "Zoë 😀", "Ana-María Núñez", "👍"])
def test_non_ascii_names_round_trip(name: str) -> None:
    raw = message_bytes(build(to_name=name, from_name=f"{name} Shop"))
    assert raw.isascii()  # encoded per RFC 2047, never raw 8-bit in headers
    parsed = wire(build(to_name=name, from_name=f"{name} Shop"))

    assert parsed["To"].addresses[0].display_name == name
    assert parsed["To"].addresses[0].addr_spec == "anna@example.com"
    assert parsed["From"].addresses[0].display_name == f"{name} Shop"


def test_long_non_ascii_name_and_subject_survive_folding() -> None:
    name = "李小龙 عربى Ψυχή 👨‍👩‍👧 " * 4
    subject = "Ψ 李 عربى 😀 " * 12
    raw = message_bytes(build(to_name=name, rendered=RenderedEmail(subject=subject, html="<p>x</p>", text="x")))
    parsed = message_from_bytes(raw, policy=policy.default)

    assert str(parsed["Subject"]) == subject.strip()
    # RFC 2047 decoding (what mail clients do); the stdlib's address parser adds a space between
    # adjacent encoded words in a display name, which real clients do not.
    to_header = raw.split(b"\r\nTo: ", 1)[1].split(b"\r\nSubject:", 1)[0].decode()
    assert str(make_header(decode_header(to_header))) == f"{name.strip()} <anna@example.com>"


def test_idn_domain_is_encoded() -> None:
    parsed = wire(build(to_address="anna@bücher.example"))
    assert parsed["To"].addresses[0].domain == "xn--bcher-kva.example"


@pytest.mark.parametrize("name", ["Anna", "Ännä Ölund"])
def test_a_non_ascii_local_part_travels_as_utf8_never_as_an_encoded_word(name: str) -> None:
    """RFC 6532: such an address only exists as UTF-8 headers (sent with SMTPUTF8); an encoded
    word inside an address is not an address at all. Whether a sender can take it is its call."""
    raw = message_bytes(build(to_address="ännä@bücher.example", to_name=name))
    assert "ännä@xn--bcher-kva.example>".encode() in raw and b"=?utf-8?q?=C3=A4" not in raw.lower()
    parsed = message_from_string(raw.decode("utf-8"), policy=policy.default)
    assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [(name, "ännä@xn--bcher-kva.example")]
    plain = message_bytes(build(to_address="anna@example.com", to_name=name))
    assert plain.isascii()


def test_check_address_refuses_a_non_ascii_local_part_unless_utf8_is_offered() -> None:
    with pytest.raises(UnsendableAddressError, match="non-ASCII characters before the @.*SMTPUTF8"):
        check_address("ännä@example.com", "recipient")
    assert check_address("ännä@bücher.example", "recipient", utf8=True) == "ännä@xn--bcher-kva.example"
    with pytest.raises(UnsendableAddressError, match="not a valid email address"):
        check_address("ännä @example.com", "recipient", utf8=True)


def test_message_id_is_deterministic_from_the_key() -> None:
    first = build(message_key="rule:1")
    again = build(message_key="rule:1", to_name="Someone else")
    other = build(message_key="rule:2")

    assert first["Message-ID"] == again["Message-ID"] == message_id("rule:1", "acme.example")
    assert first["Message-ID"] != other["Message-ID"]
    assert str(first["Message-ID"]).startswith("<") and str(first["Message-ID"]).endswith("@acme.example>")
    with pytest.raises(NotifyError, match="message_key"):
        build(message_key="")


def test_marketing_mail_gets_one_click_unsubscribe_with_https() -> None:
    raw = message_bytes(build(marketing=True, unsubscribe_url=UNSUB, unsubscribe_mailto="unsub@acme.example"))
    parsed = message_from_bytes(raw, policy=policy.default)

    assert str(parsed["List-Unsubscribe"]) == f"<{UNSUB}>, <mailto:unsub@acme.example?subject=unsubscribe>"
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert f"<{UNSUB}>".encode() in raw  # never RFC 2047-encoded or split inside the URL
    assert len(parsed.get_all("List-Unsubscribe") or []) == 1


def test_marketing_mail_without_https_has_no_one_click_post() -> None:
    mailto_only = wire(build(marketing=True, unsubscribe_mailto="mailto:unsub@acme.example?subject=stop"))
    assert str(mailto_only["List-Unsubscribe"]) == "<mailto:unsub@acme.example?subject=stop>"
    assert mailto_only["List-Unsubscribe-Post"] is None

    http_only = wire(build(marketing=True, unsubscribe_url="http://acme.example/u?e=x"))
    assert str(http_only["List-Unsubscribe"]) == "<http://acme.example/u?e=x>"
    assert http_only["List-Unsubscribe-Post"] is None


def test_transactional_mail_has_no_unsubscribe_headers() -> None:
    parsed = wire(build(marketing=False, unsubscribe_url=UNSUB, unsubscribe_mailto="unsub@acme.example"))
    assert parsed["List-Unsubscribe"] is None and parsed["List-Unsubscribe-Post"] is None


def test_marketing_mail_needs_an_unsubscribe_method_and_sane_uris() -> None:
    with pytest.raises(NotifyError, match="unsubscribe"):
        build(marketing=True)
    for bad in ("https://acme.example/u\r\nBcc: x@y.z", "https://acme.example/u>, <https://evil.example", "javascript:alert(1)"):
        with pytest.raises(NotifyError, match="unsubscribe_url"):
            build(marketing=True, unsubscribe_url=bad)
    with pytest.raises(NotifyError, match="unsubscribe_mailto"):
        build(marketing=True, unsubscribe_mailto="unsub@acme.example\nBcc: x@y.z")
