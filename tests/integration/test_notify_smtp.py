"""SmtpSender against a real aiosmtpd server on 127.0.0.1: plain, AUTH, STARTTLS, implicit TLS,
one connection reused, reconnect after the server drops it, and what arrives is what was built."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from winback.errors import NotifyError, UnsendableAddressError
from winback.notify import SmtpSender, build_message, render_email

pytestmark = pytest.mark.integration

USER = "winback"
PASSWORD = "correct-horse-battery-staple"


@dataclass
class Received:
    peer: Any
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Collector:
    """An aiosmtpd handler keeping every delivered envelope and the connection it came on."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(session.peer, envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        return "250 Message accepted"

    @property
    def connections(self) -> int:
        return len({r.peer for r in self.received})


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A factory: ``start(**smtp_parameters)`` → (controller, collector); all stopped afterwards."""
    controllers: list[Controller] = []

    def start(ssl_context: ssl.SSLContext | None = None, **parameters: Any) -> tuple[Controller, Collector]:
        collector = Collector()
        controller = Controller(
            collector, hostname="127.0.0.1", port=free_port(), ssl_context=ssl_context, ready_timeout=10, **parameters
        )
        controller.start()
        controllers.append(controller)
        return controller, collector

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, made with openssl for this test."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def sender_for(controller: Controller, **kwargs: Any) -> SmtpSender:
    kwargs.setdefault("starttls", False)
    kwargs.setdefault("timeout", 10)

    async def no_wait(seconds: float) -> None:
        return None

    return SmtpSender(controller.hostname, controller.port, rate_per_minute=600, burst=100, sleep=no_wait, **kwargs)


def bestsellers(n: int = 1, *, name: str = "Anna Ψ") -> EmailMessage:
    rendered = render_email(
        "back_to_bestsellers",
        {
            "store": {"name": "Acme", "url": "https://acme.example", "logo_url": None, "currency": "EUR"},
            "customer": {"first_name": name, "last_name": "Li", "display_name": name, "email": f"anna{n}@example.com"},
            "products": [{"title": "Mug 李", "url": "https://acme.example/p/1", "image_url": None, "price": "12.5", "currency": "EUR"}],
            "last_order_at": "2024-03-12",
            "days_since": 120,
            "unsubscribe_url": f"https://acme.example/u?e=anna{n}%40example.com&t=abc",
        },
    )
    return build_message(
        rendered,
        from_address="hello@acme.example",
        from_name="Acme",
        to_address=f"anna{n}@example.com",
        to_name=name,
        unsubscribe_url=f"https://acme.example/u?e=anna{n}%40example.com&t=abc",
        message_key=f"back_to_bestsellers:{n}",
        marketing=True,
    )


def parse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_plain_smtp_delivers_exactly_what_was_built(smtp_server: Any) -> None:
    controller, collector = smtp_server()
    built = bestsellers()
    async with sender_for(controller) as sender:
        message_id = await sender.send(built)

    assert message_id == str(built["Message-ID"])
    [received] = collector.received
    assert received.mail_from == "hello@acme.example" and received.rcpt_tos == ["anna1@example.com"]
    got = parse(received.data)
    for header in ("From", "To", "Subject", "Message-ID", "Date", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert str(got[header]) == str(built[header]), header
    assert got["To"].addresses[0].display_name == "Anna Ψ"
    assert got.get_content_type() == "multipart/alternative"
    got_parts = [(p.get_content_type(), p.get_content().replace("\r\n", "\n")) for p in got.iter_parts()]
    built_parts = [(p.get_content_type(), p.get_content().replace("\r\n", "\n")) for p in built.iter_parts()]
    assert got_parts == built_parts
    assert "Mug 李" in got_parts[0][1] and "€12.50" in got_parts[1][1]
    assert got.get_all("Bcc") is None


async def test_one_connection_serves_many_messages(smtp_server: Any) -> None:
    controller, collector = smtp_server()
    async with sender_for(controller) as sender:
        ids = [await sender.send(bestsellers(n)) for n in range(1, 6)]

    assert len(set(ids)) == 5
    assert [r.rcpt_tos for r in collector.received] == [[f"anna{n}@example.com"] for n in range(1, 6)]
    assert collector.connections == 1


async def test_reconnects_once_when_the_server_dropped_the_connection(smtp_server: Any) -> None:
    controller, collector = smtp_server(timeout=0.3)  # the server closes idle sessions after 0.3 s
    async with sender_for(controller) as sender:
        await sender.send(bestsellers(1))
        await asyncio.sleep(1.0)  # let the server drop the idle connection
        await sender.send(bestsellers(2))

    assert [r.rcpt_tos for r in collector.received] == [["anna1@example.com"], ["anna2@example.com"]]
    assert collector.connections == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_auth_succeeds_with_the_right_password(smtp_server: Any) -> None:
    controller, collector = smtp_server(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    async with sender_for(controller, username=USER, password=PASSWORD) as sender:
        await sender.send(bestsellers())
    assert len(collector.received) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_wrong_password_is_a_notify_error_that_never_shows_it(smtp_server: Any) -> None:
    controller, collector = smtp_server(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    wrong = "wrong-password-do-not-print"
    sender = sender_for(controller, username=USER, password=wrong)
    with pytest.raises(NotifyError) as info:
        await sender.send(bestsellers())
    await sender.aclose()

    message = str(info.value)
    assert wrong not in message and PASSWORD not in message
    assert f"127.0.0.1:{controller.port}" in message and repr(USER) in message and "smtp_password" in message
    assert collector.received == []


async def test_connection_refused_names_host_and_port() -> None:
    port = free_port()
    sender = SmtpSender("127.0.0.1", port, starttls=False, timeout=5)
    with pytest.raises(NotifyError, match=rf"127\.0\.0\.1:{port}.*refused"):
        await sender.send(bestsellers())
    await sender.aclose()


async def test_starttls_with_a_trusted_self_signed_certificate(smtp_server: Any, certificate: tuple[Path, Path]) -> None:
    controller, collector = smtp_server(
        tls_context=server_tls(certificate), require_starttls=True, authenticator=authenticator, auth_required=True
    )
    async with sender_for(
        controller, starttls=True, ssl_context=client_tls(certificate), username=USER, password=PASSWORD
    ) as sender:
        await sender.send(bestsellers(1))
        await sender.send(bestsellers(2))

    assert len(collector.received) == 2 and collector.connections == 1
    assert str(parse(collector.received[0].data)["To"]) == str(bestsellers(1)["To"])


async def test_starttls_refuses_an_untrusted_certificate(smtp_server: Any, certificate: tuple[Path, Path]) -> None:
    controller, collector = smtp_server(tls_context=server_tls(certificate), require_starttls=True)
    sender = sender_for(controller, starttls=True)  # default context: the system's trust store
    with pytest.raises(NotifyError, match="TLS handshake"):
        await sender.send(bestsellers())
    await sender.aclose()
    assert collector.received == []


async def test_starttls_required_but_not_offered(smtp_server: Any) -> None:
    controller, _ = smtp_server()
    sender = sender_for(controller, starttls=True)
    with pytest.raises(NotifyError, match="does not offer STARTTLS"):
        await sender.send(bestsellers())
    await sender.aclose()


async def test_implicit_tls(smtp_server: Any, certificate: tuple[Path, Path]) -> None:
    controller, collector = smtp_server(ssl_context=server_tls(certificate))
    async with sender_for(controller, ssl=True, ssl_context=client_tls(certificate)) as sender:
        await sender.send(bestsellers())
    assert len(collector.received) == 1


def to_address(address: str) -> EmailMessage:
    rendered = render_email(
        "back_to_bestsellers",
        {"store": {"name": "Acme", "url": "https://acme.example", "currency": "EUR"}, "products": [],
         "customer": {"first_name": "Ännä", "email": address}, "last_order_at": "2024-03-12", "days_since": 120},
    )
    return build_message(rendered, from_address="hello@acme.example", to_address=address, to_name="Ännä Ölund",
                         message_key=f"k:{address}", marketing=False)


async def test_a_non_ascii_local_part_is_refused_up_front_without_smtputf8(smtp_server: Any) -> None:
    """Asked before anything is done for the message (issue 10: no code for an email that cannot
    go out); plain addresses need no connection to answer."""
    controller, collector = smtp_server(enable_SMTPUTF8=False)
    async with sender_for(controller) as sender:
        await sender.check_recipient("anna@bücher.example")
        with pytest.raises(UnsendableAddressError, match=f"does not offer SMTPUTF8.*{controller.port}|{controller.port}.*SMTPUTF8"):
            await sender.check_recipient("ännä@example.com")
    assert collector.received == []


async def test_a_non_ascii_local_part_is_delivered_where_the_server_offers_smtputf8(smtp_server: Any) -> None:
    controller, collector = smtp_server(enable_SMTPUTF8=True)  # aiosmtpd's Controller offers it by default
    async with sender_for(controller) as sender:
        await sender.check_recipient("ännä@bücher.example")
        await sender.send(to_address("ännä@bücher.example"))

    [received] = collector.received
    assert received.rcpt_tos == ["ännä@xn--bcher-kva.example"]
    got = message_from_bytes(received.data, policy=policy.SMTPUTF8)
    header = received.data.split(b"\r\nTo: ", 1)[1].split(b"\r\n", 1)[0].decode("utf-8")
    assert header.endswith("<ännä@xn--bcher-kva.example>") and got["Message-ID"] is not None
