"""The ``address`` and ``dkim`` lines of ``winback check``: what a lawful marketing email
still needs beyond its unsubscribe link.

* CAN-SPAM wants the sender's postal address in every commercial email: ``[store] postal_address``,
  else the address the platform holds (Shopify ``shopAddress``, Ecwid's company address). Without
  either, ``winback run`` sends no marketing mail, and this line fails.
* Gmail and Yahoo want DKIM, covering the List-Unsubscribe headers (RFC 8058). winback signs when
  ``[email]`` names a key; otherwise the mail server or provider must.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from winback.checks.results import CheckItem, Status
from winback.config import ClientConfig
from winback.errors import NotifyError
from winback.notify import dkim_sign
from winback.rules.base import RuleContext, Step
from winback.rules.compose import dkim_key
from winback.rules.engine import client_rules, email_settings
from winback.rules.samples import sample_facts
from winback.sync import LocalStore


def _sends_marketing(config: ClientConfig) -> bool:
    facts = sample_facts(config.name, config.platform, f"{config.platform}:sample")
    context = RuleContext(store=cast(LocalStore, None), facts=facts, now=datetime.now(UTC), capabilities=None)
    for rule in client_rules(config):
        try:
            if any(a.marketing and Step.SEND_EMAIL in a.steps for a in rule.sample_actions(context)):
                return True
        except Exception:  # noqa: BLE001 - the templates line reports a broken rule
            continue
    return False


def check_postal_address(config: ClientConfig, store_items: list[CheckItem]) -> CheckItem:
    configured = getattr(config.store.settings, "postal_address", None)
    if configured:
        return CheckItem("address", Status.OK, f"marketing footers show {configured} ([store] postal_address)",
                         data={"source": "config", "postal_address": configured})
    connect = next((item for item in store_items if item.name == "connect"), None)
    platform = connect.data.get("postal_address") if connect is not None else None
    if platform:
        return CheckItem("address", Status.OK, f"marketing footers show {platform} (the store's address on "
                         f"{config.platform})", data={"source": "platform", "postal_address": platform})
    if not _sends_marketing(config):
        return CheckItem("address", Status.OK, "no enabled rule sends marketing email", data={"source": None})
    if connect is None or not connect.ok:
        return CheckItem("address", Status.SKIPPED, "not checked: the connection failed")
    return CheckItem(
        "address", Status.FAIL,
        f"marketing email needs the sender's postal address (CAN-SPAM) and {config.store_label} has none: "
        "winback run will send no marketing email",
        (f"set postal_address = \"…\" under [store] in {config.path}",
         "or fill in the store's address on the platform, then run winback sync"),
        {"source": None},
    )


def check_dkim(config: ClientConfig) -> CheckItem:
    settings = email_settings(config)
    if settings.dkim_private_key_file is None:
        return CheckItem("dkim", Status.OK, "winback does not sign mail: your mail server or email provider must add "
                         "a DKIM signature (Gmail and Yahoo require one for bulk mail)", data={"signed": False})
    try:
        key = dkim_key(settings)
    except NotifyError as exc:
        return CheckItem("dkim", Status.FAIL, str(exc), ("fix dkim_private_key_file under [email]",), {"signed": False})
    path = settings.dkim_private_key_file
    if not path.is_absolute():
        path = config.path.parent / path
    if dkim_sign.key_readable_by_others(path):
        return CheckItem("dkim", Status.FAIL, f"the DKIM key {path} is readable by other users of this machine",
                         (f"chmod 600 {path}",), {"signed": True})
    assert key is not None
    return CheckItem("dkim", Status.OK, f"mail leaves signed with DKIM d={settings.dkim_domain} "
                     f"s={settings.dkim_selector}, covering List-Unsubscribe and List-Unsubscribe-Post "
                     f"(publish the public key at {settings.dkim_selector}._domainkey.{settings.dkim_domain})",
                     data={"signed": True, "domain": settings.dkim_domain, "selector": settings.dkim_selector})
