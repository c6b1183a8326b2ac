"""The rest of a lawful marketing email: the sender's postal address (CAN-SPAM) in the footer or
no marketing at all, and a DKIM signature covering the one-click unsubscribe headers."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import replace
from pathlib import Path

import dkim
import pytest
from pydantic import ValidationError

from tests.unit.test_rules_compose import FACTS, NOW, account_action, bodies, discount_action
from winback.config import EmailSection
from winback.notify import message_bytes
from winback.rules.compose import compose_email, postal_address_problem

ADDRESS = "Acme Ltd, 1 Harbour Street, Leith EH6 6QW, United Kingdom"


def test_marketing_without_a_postal_address_is_refused_with_a_fix() -> None:
    why = postal_address_problem(discount_action(), FACTS, EmailSection())
    assert why is not None and "CAN-SPAM" in why and "postal_address under [store]" in why
    assert postal_address_problem(account_action(), FACTS, EmailSection()) is None  # transactional


def test_the_platforms_address_or_the_configured_one_is_in_the_footer(tmp_path: Path) -> None:
    facts = replace(FACTS, postal_address="Platform Street 5, Berlin")
    assert postal_address_problem(discount_action(), facts, EmailSection()) is None
    html, text = bodies(compose_email(discount_action(), facts, {"discount_code": "T"}, EmailSection(), NOW))
    assert "Platform Street 5, Berlin" in html and "Platform Street 5, Berlin" in text
    settings = EmailSection().with_oneclick("acme", tmp_path, ADDRESS)
    assert postal_address_problem(discount_action(), FACTS, settings) is None
    html, text = bodies(compose_email(discount_action(), facts, {"discount_code": "T"}, settings, NOW))
    assert ADDRESS in html and ADDRESS in text and "Platform Street" not in text


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "acme.dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    key.chmod(0o600)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return key, base64.b64encode(der).decode()


def test_mail_is_dkim_signed_over_the_unsubscribe_headers(rsa_key: tuple[Path, str], tmp_path: Path) -> None:
    key, public = rsa_key
    settings = EmailSection(public_url="https://w.example", dkim_selector="wb", dkim_domain="acme.example",
                            dkim_private_key_file=key).with_oneclick("acme", tmp_path, ADDRESS)
    message = compose_email(discount_action(), FACTS, {"discount_code": "T"}, settings, NOW)
    signature = str(message["DKIM-Signature"])
    assert "d=acme.example" in signature and "s=wb" in signature
    signed = signature.split("h=", 1)[1].split(";", 1)[0].replace(" ", "").lower().split(":")
    assert "list-unsubscribe" in signed and "list-unsubscribe-post" in signed and "from" in signed

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"wb._domainkey.acme.example."
        return f"v=DKIM1; k=rsa; p={public}".encode()

    data = message_bytes(message)
    assert dkim.verify(data, dnsfunc=dns)
    tampered = data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: nope")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_dkim_needs_all_three_keys() -> None:
    with pytest.raises(ValidationError, match="dkim_selector, dkim_domain and dkim_private_key_file"):
        EmailSection(dkim_selector="wb")
