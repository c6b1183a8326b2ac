"""Outbox sender, sender_from_config, the rate limit, unsubscribe links and the [email] fields."""

from __future__ import annotations

import json
import stat
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from winback.config import EmailSection, load_config
from winback.errors import NotifyError
from winback.notify import (
    OutboxSender,
    RenderedEmail,
    Sender,
    SmtpSender,
    TokenBucket,
    build_message,
    sender_from_config,
    unsubscribe_link,
    unsubscribe_token,
    verify_unsubscribe_token,
)
from winback.notify.outbox import slug
from winback.secrets import redact


def message(key: str = "rule:1", to: str = "anna@example.com", subject: str = "Hello Ψ") -> Any:
    return build_message(
        RenderedEmail(subject=subject, html="<p>Hi</p>", text="Hi\n"),
        from_address="hello@acme.example",
        to_address=to,
        to_name="Anna",
        message_key=key,
        marketing=False,
    )


# --- outbox ------------------------------------------------------------------------------------


async def test_outbox_writes_one_private_eml_per_message_and_an_index(tmp_path: Path) -> None:
    outbox = OutboxSender(tmp_path / "outbox")
    assert isinstance(outbox, Sender)
    first, second = message("rule:1"), message("rule:2", to="bob@example.com", subject="Second")

    ids = [await outbox.send(first), await outbox.send(second)]
    await outbox.aclose()

    assert ids == [str(first["Message-ID"]), str(second["Message-ID"])]
    files = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert files == sorted([f"{slug(ids[0])}.eml", f"{slug(ids[1])}.eml", "index.jsonl"])  # no temp files left
    eml = tmp_path / "outbox" / f"{slug(ids[0])}.eml"
    assert stat.S_IMODE(eml.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "outbox" / "index.jsonl").stat().st_mode) == 0o600
    parsed = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert str(parsed["Message-ID"]) == ids[0] and str(parsed["Subject"]) == "Hello Ψ"
    assert b"\r\n" in eml.read_bytes()

    lines = [json.loads(line) for line in (tmp_path / "outbox" / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(e["to"], e["subject"], e["file"], e["message_id"]) for e in lines] == [
        ("Anna <anna@example.com>", "Hello Ψ", f"{slug(ids[0])}.eml", ids[0]),
        ("Anna <bob@example.com>", "Second", f"{slug(ids[1])}.eml", ids[1]),
    ]
    assert all(e["time"].endswith("+00:00") for e in lines)


async def test_outbox_resend_replaces_the_file_and_logs_again(tmp_path: Path) -> None:
    outbox = OutboxSender(tmp_path)
    await outbox.send(message("rule:same", subject="One"))
    await outbox.send(message("rule:same", subject="Two"))

    emls = list(tmp_path.glob("*.eml"))
    assert len(emls) == 1 and "Two" in emls[0].read_text()
    assert len((tmp_path / "index.jsonl").read_text().splitlines()) == 2


async def test_outbox_errors_are_notify_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NotifyError, match="outbox"):
        await OutboxSender(blocker / "outbox").send(message())
    no_id = message()
    del no_id["Message-ID"]
    with pytest.raises(NotifyError, match="Message-ID"):
        await OutboxSender(tmp_path).send(no_id)


def test_slug_is_a_safe_file_name() -> None:
    assert slug("<abc123@shop.example>") == "abc123_at_shop.example"
    assert "/" not in slug("<../../etc/passwd@x>") and not slug("<../../etc/passwd@x>").startswith(".")
    assert slug("<>") == "message"


# --- from config -------------------------------------------------------------------------------


def test_sender_from_config_outbox_defaults_to_base_dir(tmp_path: Path) -> None:
    default = sender_from_config(EmailSection(), base_dir=tmp_path)
    assert isinstance(default, OutboxSender) and default.directory == tmp_path / "outbox"
    relative = sender_from_config(EmailSection(outbox_dir=Path("mail")), base_dir=tmp_path)
    assert isinstance(relative, OutboxSender) and relative.directory == tmp_path / "mail"


def test_sender_from_config_smtp_ports_and_secret(tmp_path: Path) -> None:
    password = "smtp-password-for-config-test"
    starttls = sender_from_config(
        EmailSection(sender="smtp", smtp_host="smtp.acme.example", smtp_username="u", smtp_password=SecretStr(password)),
        base_dir=tmp_path,
    )
    assert isinstance(starttls, SmtpSender)
    assert (starttls.port, starttls.starttls, starttls.ssl, starttls.username) == (587, True, False, "u")
    assert redact(f"x {password} y") == "x *** y" and password not in repr(starttls)

    implicit = sender_from_config(EmailSection(sender="smtp", smtp_host="h", smtp_ssl=True), base_dir=tmp_path)
    assert isinstance(implicit, SmtpSender) and (implicit.port, implicit.starttls, implicit.ssl) == (465, False, True)
    plain = sender_from_config(EmailSection(sender="smtp", smtp_host="h", smtp_starttls=False), base_dir=tmp_path)
    assert isinstance(plain, SmtpSender) and (plain.port, plain.starttls) == (25, False)


def test_email_section_new_fields_validate() -> None:
    section = EmailSection(
        from_name="Acme",
        reply_to="help@acme.example",
        unsubscribe_url="https://acme.example/u?e={email}&t={token}",
        unsubscribe_mailto="unsub@acme.example",
        unsubscribe_secret=SecretStr("k" * 32),
        templates_dir=Path("emails"),
    )
    assert section.from_name == "Acme" and section.templates_dir == Path("emails")
    for bad, why in [
        ("http://acme.example/u?e={email}", "https"),
        ("https://acme.example/u?e={mail}", "placeholders"),
        ("https://acme.example/u", "must contain"),
        ("https://acme.example/u?e={email", "placeholder"),
    ]:
        with pytest.raises(ValidationError, match=why):
            EmailSection(unsubscribe_url=bad)


def test_templates_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(
        '[store]\nplatform = "shopify"\nshop = "acme"\naccess_token = "shpat_notify_test_000000"\n\n'
        '[email]\ntemplates_dir = "emails"\noutbox_dir = "out"\nunsubscribe_secret = "unsub-secret-notify-test"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.email is not None
    assert config.email.templates_dir == (tmp_path / "emails").resolve()
    assert config.email.outbox_dir == (tmp_path / "out").resolve()
    assert config.redacted()["email"]["unsubscribe_secret"] == "***"


# --- unsubscribe -------------------------------------------------------------------------------


def test_unsubscribe_link_fills_email_and_hmac_token() -> None:
    section = EmailSection(
        unsubscribe_url="https://acme.example/u?e={email}&t={token}", unsubscribe_secret=SecretStr("key-0123456789")
    )
    link = unsubscribe_link(section, "Anna+x@Example.com")
    token = unsubscribe_token("anna+x@example.com", "key-0123456789")

    assert link == f"https://acme.example/u?e=Anna%2Bx%40Example.com&t={token}"
    assert len(token) == 32 and verify_unsubscribe_token(" ANNA+x@example.com ", token, "key-0123456789")
    assert not verify_unsubscribe_token("bob@example.com", token, "key-0123456789")
    assert unsubscribe_link(section, "anna+x@example.com", b"other-key") != link


def test_unsubscribe_link_falls_back_to_mailto_or_none() -> None:
    assert unsubscribe_link(EmailSection(unsubscribe_mailto="unsub@acme.example"), "a@b.example") == (
        "mailto:unsub@acme.example?subject=unsubscribe"
    )
    assert unsubscribe_link(EmailSection(), "a@b.example") is None
    assert unsubscribe_link(EmailSection(unsubscribe_url="https://acme.example/u/{email}"), "a b@c") == (
        "https://acme.example/u/a%20b%40c"
    )
    with pytest.raises(NotifyError, match="unsubscribe_secret"):
        unsubscribe_link(EmailSection(unsubscribe_url="https://acme.example/u?t={token}"), "a@b.example")


# --- rate limit --------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_token_bucket_spaces_sends_to_the_rate() -> None:
    fake = FakeTime()
    bucket = TokenBucket(30, burst=2, clock=fake.clock, sleep=fake.sleep)
    for _ in range(5):
        await bucket.acquire()

    assert len(fake.sleeps) == 3  # two from the burst, then one every 2 s
    assert sum(fake.sleeps) == pytest.approx(6.0)
    fake.now += 60
    before = len(fake.sleeps)
    await bucket.acquire()
    assert len(fake.sleeps) == before  # refilled while idle


class _DroppingSmtp:
    """Stands in for smtplib.SMTP: answers NOOP, then drops the link in the middle of a send."""

    def __init__(self) -> None:
        self.sends = 0

    def noop(self) -> tuple[int, bytes]:
        return 250, b"OK"

    def send_message(self, msg: Any) -> None:
        import smtplib

        self.sends += 1
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    def quit(self) -> None:
        pass

    def close(self) -> None:
        pass


async def test_smtp_never_resends_after_a_drop_mid_send(monkeypatch: pytest.MonkeyPatch) -> None:
    """A drop during DATA may follow delivery: resending could deliver twice, so it must not."""
    from winback.notify.smtp import SmtpSender

    fake = _DroppingSmtp()
    connects: list[int] = []

    def connect(self: SmtpSender) -> Any:
        connects.append(1)
        self._smtp = fake
        return fake

    monkeypatch.setattr(SmtpSender, "_connect", connect)
    sender = SmtpSender("127.0.0.1", 2525, starttls=False)
    with pytest.raises(NotifyError, match="not resent"):
        await sender.send(message())
    assert fake.sends == 1
    assert len(connects) == 1
    await sender.aclose()


async def test_smtp_unreachable_is_email_not_sent() -> None:
    """Nothing can have left when the server cannot be reached: callers may retry safely."""
    import socket

    from winback.errors import EmailNotSentError
    from winback.notify.smtp import SmtpSender

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = SmtpSender("127.0.0.1", port, starttls=False, timeout=2)
    with pytest.raises(EmailNotSentError, match="connection refused"):
        await sender.ready()
    with pytest.raises(EmailNotSentError):
        await sender.send(message())
    await sender.aclose()


async def test_ready_takes_the_rate_limit_turn_that_send_then_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait for the rate limit happens in ready(), before the caller marks the email as
    handed over; send() right after must not wait again."""
    from winback.notify.smtp import SmtpSender

    now = [0.0]
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(SmtpSender, "_live_connection", lambda self: None)
    monkeypatch.setattr(SmtpSender, "_send", lambda self, msg: None)
    sender = SmtpSender("127.0.0.1", 2525, starttls=False, rate_per_minute=60, clock=lambda: now[0], sleep=fake_sleep)
    for _ in range(3):
        await sender.ready()
        waited = len(waits)
        await sender.send(message())
        assert len(waits) == waited  # send used the turn ready() took
    assert len(waits) == 2 and all(w > 0 for w in waits)  # the 2nd and 3rd turns waited ~1 s
    await sender.aclose()
