"""One-click unsubscribe links (winback.notify.oneclick) and the headers of marketing mail when
``[email] public_url`` points at ``winback serve``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.unit.test_rules_compose import FACTS, NOW, bodies, discount_action
from winback.config import EmailSection
from winback.notify import oneclick
from winback.rules.compose import compose_email


def test_the_secret_is_made_once_private_and_reused(tmp_path: Path) -> None:
    first = oneclick.install_secret(tmp_path)
    assert (tmp_path / oneclick.SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert oneclick.install_secret(tmp_path) == first and len(first) >= 64


def test_a_second_process_never_reads_a_half_written_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review item 14: another process starting while the first is making the key, simulated by
    calling install_secret from inside the first one's key generation."""
    seen: list[bytes] = []
    calls: list[int] = []
    real = oneclick.secrets.token_hex

    def token_hex(nbytes: int) -> str:
        calls.append(nbytes)
        if len(calls) == 1:
            seen.append(oneclick.install_secret(tmp_path))  # the other process, mid-creation
        return real(nbytes)

    monkeypatch.setattr(oneclick.secrets, "token_hex", token_hex)
    first = oneclick.install_secret(tmp_path)
    assert seen == [first] and len(first) >= 64
    assert [p.name for p in tmp_path.iterdir()] == [oneclick.SECRET_FILE]  # no temporary file left
    assert (tmp_path / oneclick.SECRET_FILE).stat().st_mode & 0o777 == 0o600


def test_a_link_verifies_for_its_own_client_address_and_purpose_only(tmp_path: Path) -> None:
    secret = oneclick.install_secret(tmp_path)
    url = oneclick.link("https://w.example", secret, "acme", " Chloe@Example.com ")
    assert url == oneclick.link("https://w.example/", secret, "acme", "chloe@example.com")  # stable
    client, purpose, encoded, token = url.split("/")[-4:]
    assert oneclick.verify(secret, client, purpose, encoded, token) == oneclick.LinkTarget(
        "acme", "chloe@example.com", "marketing")
    assert oneclick.verify(secret, "other", purpose, encoded, token) is None
    assert oneclick.verify(secret, client, "transactional", encoded, token) is None
    assert oneclick.verify(b"another-install-secret-0123456789abcdef", client, purpose, encoded, token) is None
    other = oneclick.link("https://w.example", secret, "acme", "eve@example.com").split("/")[-2]
    assert oneclick.verify(secret, client, purpose, other, token) is None
    assert oneclick.verify(secret, client, purpose, encoded, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert oneclick.verify(secret, client, purpose, "%%%", token) is None


def test_marketing_mail_links_to_winback_serve_with_one_click_headers(tmp_path: Path) -> None:
    settings = EmailSection(public_url="https://winback.example.com", unsubscribe_mailto="unsub@acme.example")
    settings = settings.with_oneclick("acme", tmp_path)
    message = compose_email(discount_action(), FACTS, {"discount_code": "THANKS-1"}, settings, NOW)
    expected = oneclick.link("https://winback.example.com", oneclick.install_secret(tmp_path), "acme",
                             "chloe@example.com")
    header = str(message["List-Unsubscribe"])
    assert f"<{expected}>" in header and "<mailto:unsub@acme.example?subject=unsubscribe>" in header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html, text = bodies(message)
    assert expected in text and expected in html


@pytest.mark.parametrize("url", ["http://winback.example.com", "ftp://x", "https://", "https://w.example/?a=1"])
def test_public_url_must_be_https(url: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        EmailSection(public_url=url)


def test_loopback_http_is_allowed_for_tests() -> None:
    assert EmailSection(public_url="http://127.0.0.1:8080/").public_url == "http://127.0.0.1:8080"
