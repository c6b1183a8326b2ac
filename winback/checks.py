"""Is a client ready to run? Connection, access scopes, capabilities, SMTP login, database.

:func:`check_clients` returns plain structured results (:class:`ClientCheck` holding
:class:`CheckItem` objects); ``winback check`` only prints them. Every failure carries the fixes a
merchant can act on ("add the read_all_orders scope to the app: orders older than 60 days are
invisible without it"). Nothing here prints or returns a secret: texts from servers pass through
:func:`winback.secrets.redact` and the SMTP password is masked wherever it could appear.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from winback.config import ClientConfig, EmailSection
from winback.connectors.base import Capabilities, InviteMode
from winback.errors import (
    AuthenticationError,
    TokenGrantError,
    ConnectorError,
    MissingScopeError,
    StoreNotFoundError,
    WinbackError,
)
from winback.rules.engine import client_rules, email_settings, no_rule_enabled
from winback.rules.preflight import email_problems
from winback.rules.samples import sample_facts
from winback.secrets import redact
from winback.sync.probe import probe_store


CONFIG_CHECKS = ("templates",)
"""Checks whose failure is a configuration error (exit status 2)."""


class Status(StrEnum):
    OK = "ok"
    FAIL = "fail"
    SKIPPED = "skipped"
    """Not checked because an earlier check it depends on failed."""


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One line of the checklist."""

    name: str
    """``config``, ``secrets``, ``rules``, ``templates``, ``connect``, ``access``, ``capabilities``,
    ``email``, ``database``."""
    status: Status
    detail: str
    fixes: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    """Structured facts for ``--json`` (missing scopes, invite mode, ...)."""

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


@dataclass(slots=True)
class ClientCheck:
    client: str
    path: str
    platform: str
    store: str
    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.status is Status.OK for item in self.items)

    @property
    def config_error(self) -> bool:
        """A failed check of what the merchant wrote (templates): exit status 2, like a bad config."""
        return any(item.name in CONFIG_CHECKS and item.status is Status.FAIL for item in self.items)

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "path": self.path,
            "platform": self.platform,
            "store": self.store,
            "ok": self.ok,
            "checks": [{**asdict(item), "fixes": list(item.fixes), "ok": item.ok} for item in self.items],
        }


# --- the checks --------------------------------------------------------------------------------


def _connector_fix(exc: BaseException, config: ClientConfig, label: str) -> tuple[str, ...]:
    profile = config.connector_class().profile
    mode = getattr(config.store.settings, "auth_mode", None)
    if isinstance(exc, TokenGrantError) or (isinstance(exc, AuthenticationError) and mode == "client-credentials"):
        where = config.source_of("store.client_secret")
        return (f"Shopify refused the app's client credentials for {label}: check store.client_id and "
                f"{where.describe()} against the Dev Dashboard (your app → Settings) and that the app is installed on {label}",)
    if isinstance(exc, AuthenticationError) and mode == "authorization-code":
        return (f"the saved token for {label} was rejected (the app was uninstalled, or its secret rotated): run "
                f"`winback connect --config {config.path}` again",)
    if isinstance(exc, AuthenticationError):
        where = config.source_of(f"store.{profile.credential_setting}")
        verb = "put it in" if where.env else "set"
        return (f"the token for {label} was rejected: create a new one and {verb} {where.describe()}",)
    if isinstance(exc, StoreNotFoundError):
        return (f"{label} was not found: check {config.source_of(f'store.{profile.store_setting}').describe()}",)
    if isinstance(exc, MissingScopeError):
        scope = exc.scope
        return (profile.scope_fix(scope, label),) if scope else (str(exc),)
    if isinstance(exc, ConnectorError):
        return (f"check that {label} is reachable from this machine and try again",)
    return (f"check the [store] settings in {config.path}",)


def _describe(exc: BaseException, label: str) -> str:
    text = str(exc) if isinstance(exc, WinbackError) else f"{type(exc).__name__}: {exc}"
    return redact(text if label in text else f"{label}: {text}")


async def check_store(
    config: ClientConfig, *, connector_options: dict[str, Any] | None = None
) -> tuple[str, list[CheckItem]]:
    """The connector's store label and the ``connect`` (store_info), ``access`` (check_access) and
    ``capabilities`` checks of one client."""
    label = config.store_label
    items: list[CheckItem] = []
    try:
        connector = config.build_connector(**(connector_options or {}))
    except Exception as exc:  # noqa: BLE001 - a plugin's bug is this client's failure, not ours
        return label, [
            CheckItem("connect", Status.FAIL, _describe(exc, label), _connector_fix(exc, config, label)),
            CheckItem("access", Status.SKIPPED, "not checked: the connection failed"),
            CheckItem("capabilities", Status.SKIPPED, "not checked: the connection failed"),
        ]
    async with connector:
        label = connector.store_label
        try:
            info = await connector.store_info()
        except Exception as exc:  # noqa: BLE001
            return label, [
                CheckItem("connect", Status.FAIL, _describe(exc, label), _connector_fix(exc, config, label)),
                CheckItem("access", Status.SKIPPED, "not checked: the connection failed"),
                CheckItem("capabilities", Status.SKIPPED, "not checked: the connection failed"),
            ]
        auth = connector.describe_auth()
        items.append(
            CheckItem(
                "connect",
                Status.OK,
                f"{label}: {info.name} ({info.currency})" + (f"; auth: {auth}" if auth else ""),
                data={"name": info.name, "currency": info.currency, "url": info.url, "store_id": info.store_id,
                      "postal_address": info.postal_address, **({"auth": auth} if auth else {})},
            )
        )
        try:
            report = await connector.check_access()
        except Exception as exc:  # noqa: BLE001
            items.append(CheckItem("access", Status.FAIL, _describe(exc, label), _connector_fix(exc, config, label)))
        else:
            missing = sorted(report.missing)
            unknown = sorted(report.unknown)
            data = {"granted": sorted(report.granted), "required": sorted(report.required), "missing": missing,
                    "unknown": unknown}
            # Scopes only a write can reveal are named, so the merchant knows to ask for them too.
            untold = f"; not known until the first write: {', '.join(unknown)}" if unknown else ""
            if missing:
                items.append(
                    CheckItem(
                        "access",
                        Status.FAIL,
                        f"{label}: missing {', '.join(missing)}{untold}",
                        tuple(connector.profile.scope_fix(scope, label) for scope in missing),
                        data,
                    )
                )
            else:
                granted = len(report.required) - len(unknown)
                items.append(CheckItem("access", Status.OK, f"{label}: all {granted} readable scopes granted{untold}"
                                       if unknown else f"{label}: all {granted} required scopes granted", data=data))
        try:
            capabilities = await connector.capabilities()
        except Exception as exc:  # noqa: BLE001
            items.append(CheckItem("capabilities", Status.FAIL, _describe(exc, label), _connector_fix(exc, config, label)))
        else:
            items.append(CheckItem("capabilities", Status.OK, describe_capabilities(capabilities), data=_capability_data(capabilities)))
    return label, items


def describe_capabilities(capabilities: Capabilities) -> str:
    accounts = {
        InviteMode.SEND_INVITE: "legacy customer accounts: guest buyers get an account invite email",
        InviteMode.NOT_NEEDED: "every buyer has an account and signs in with an emailed code or link: "
                               "nothing to create or invite",
        InviteMode.CREATE_CUSTOMER: "guest buyers get a customer record and sign in with an emailed link",
    }[capabilities.invite_mode]
    codes = "discount codes" if capabilities.discount_codes else "no discount codes"
    if capabilities.discount_codes and capabilities.customer_locked_codes:
        codes += " (locked to one customer)"
    if capabilities.unreachable:
        return f"{accounts}; {codes}; out of reach: {', '.join(capabilities.unreachable)}"
    return f"{accounts}; {codes}"


def _capability_data(capabilities: Capabilities) -> dict[str, Any]:
    data = asdict(capabilities)
    data["invite_mode"] = capabilities.invite_mode.value
    data["invites_needed"] = capabilities.invite_mode is InviteMode.SEND_INVITE
    return data


def check_email(email: EmailSection | None, *, timeout: float = 10.0) -> CheckItem:
    """The outbox directory is writable, or the SMTP server accepts the login (then we quit)."""
    if email is None or email.sender == "outbox":
        return _check_outbox(None if email is None else email.outbox_dir)
    return check_smtp(email, timeout=timeout)


def _check_outbox(directory: Path | None) -> CheckItem:
    if directory is None:
        return CheckItem("email", Status.OK, "outbox: no [email] section; rules will not send email")
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return CheckItem("email", Status.OK, f"outbox: .eml files go to {directory}")
    return CheckItem(
        "email",
        Status.FAIL,
        f"outbox: {directory} cannot be created or written",
        (f"make {existing} writable for this user, or set [email] outbox_dir to a writable directory",),
    )


def smtp_port(email: EmailSection) -> int:
    if email.smtp_port is not None:
        return email.smtp_port
    return 465 if email.smtp_ssl else 587


def check_smtp(email: EmailSection, *, timeout: float = 10.0) -> CheckItem:
    """Connect, STARTTLS or TLS as configured, log in, quit. The password is never in the result."""
    host, port = email.smtp_host or "", smtp_port(email)
    starttls = email.smtp_starttls if email.smtp_starttls is not None else not email.smtp_ssl
    password = email.smtp_password.get_secret_value() if email.smtp_password is not None else None
    where = f"smtp {host}:{port}" + (" (TLS)" if email.smtp_ssl else " (STARTTLS)" if starttls else "")
    data = {"host": host, "port": port, "ssl": email.smtp_ssl, "starttls": starttls, "username": email.smtp_username}

    def clean(text: str) -> str:
        text = redact(text)
        return text.replace(password, "***") if password else text

    def fail(detail: str, *fixes: str) -> CheckItem:
        return CheckItem("email", Status.FAIL, clean(f"{where}: {detail}"), tuple(clean(f) for f in fixes), data)

    context = ssl.create_default_context()
    client: smtplib.SMTP | None = None
    try:
        if email.smtp_ssl:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        client.ehlo()
        if starttls:
            client.starttls(context=context)
            client.ehlo()
        if email.smtp_username:
            if password is None:
                return fail(
                    f"smtp_username {email.smtp_username!r} has no smtp_password",
                    'set smtp_password = "${SMTP_PASSWORD}" under [email] and export the variable',
                )
            client.login(email.smtp_username, password)
            detail = f"logged in as {email.smtp_username}"
        else:
            detail = "connected (no smtp_username: sending without login)"
    except smtplib.SMTPAuthenticationError as exc:
        return fail(
            f"the server refused the login for {email.smtp_username!r} ({exc.smtp_code} {_reply(exc.smtp_error)})",
            "check smtp_username and the password in the variable smtp_password refers to",
        )
    except smtplib.SMTPNotSupportedError as exc:
        fix = "set smtp_starttls = false only if the server is on a trusted network, or use smtp_ssl = true on port 465"
        return fail(f"the server does not support what was asked ({exc})", fix)
    except ssl.SSLError as exc:
        return fail(
            f"TLS failed ({exc.reason or exc})",
            "check smtp_port and smtp_ssl/smtp_starttls: port 465 is usually smtp_ssl = true, 587 STARTTLS",
        )
    except smtplib.SMTPException as exc:
        return fail(f"the server answered unexpectedly ({exc})", "check smtp_host and smtp_port")
    except (TimeoutError, OSError) as exc:
        return fail(
            f"cannot connect ({exc.strerror or exc})",
            f"check smtp_host and smtp_port, and that this machine may connect to {host}:{port}",
        )
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    return CheckItem("email", Status.OK, clean(f"{where}: {detail}"), data=data)


def _reply(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]


def check_database(url: str | None) -> CheckItem:
    """Whether the first sync can create or write the local store; creates and changes nothing."""
    probe = probe_store(url)
    data = {"url": probe.url, "exists": probe.exists, "revision": probe.revision, "head": probe.head}
    if probe.ok:
        return CheckItem("database", Status.OK, redact(probe.describe()), data=data)
    return CheckItem(
        "database",
        Status.FAIL,
        redact(probe.describe()),
        (
            "check [database] url: a SQLite file and its folder must be writable by this user; a PostgreSQL "
            "server must be reachable, writable and the user allowed to create tables",
        ),
        data,
    )


def check_secrets(config: ClientConfig) -> CheckItem:
    """World-readable secrets: a secrets file others can read, or a token written in a config
    file others can read (see :attr:`ClientConfig.warnings`)."""
    if not config.warnings:
        return CheckItem("secrets", Status.OK, "no secret is readable by other users of this machine")
    fixes = tuple(dict.fromkeys(fix for warning in config.warnings for fix in warning.fixes))
    detail = "; ".join(f"{warning.path}: {warning.message}" for warning in config.warnings)
    data = {"warnings": [{"kind": w.kind.value, "path": str(w.path), "keys": list(w.keys)} for w in config.warnings]}
    return CheckItem("secrets", Status.FAIL, detail, fixes, data)


def check_rules(config: ClientConfig, *, now: datetime | None = None) -> list[CheckItem]:
    """The ``rules`` line (which are enabled) and the ``templates`` line: every email an enabled
    rule may send, rendered with the client's templates and settings for a made-up customer."""
    rules = client_rules(config)
    names = [rule.name for rule in rules]
    items = [CheckItem("rules", Status.OK, f"enabled: {', '.join(names)}" if names else no_rule_enabled(config) or "",
                       data={"enabled": names})]
    facts = sample_facts(config.name, config.platform, f"{config.platform}:sample")
    problems, rendered = email_problems(rules, facts, email_settings(config), now or datetime.now(UTC),
                                        require_postal_address=False)  # see winback.check_mail
    templates_dir = email_settings(config).templates_dir
    where = f" (overrides from {templates_dir})" if templates_dir else ""
    if problems:
        fix = f"correct the template in {templates_dir} and run winback check again" if templates_dir else \
            "correct the rule's options or the [email] settings named above"
        items.append(CheckItem("templates", Status.FAIL, "; ".join(problems), (fix,), {"problems": problems}))
    elif rendered:
        items.append(CheckItem("templates", Status.OK, f"{rendered} email{'s' if rendered != 1 else ''} rendered "
                               f"for a sample customer{where}", data={"rendered": rendered}))
    else:
        items.append(CheckItem("templates", Status.OK, "no enabled rule sends email", data={"rendered": 0}))
    return items


async def check_client(
    config: ClientConfig,
    *,
    connector_options: dict[str, Any] | None = None,
    smtp_timeout: float = 10.0,
    databases: dict[str | None, CheckItem] | None = None,
) -> ClientCheck:
    result = ClientCheck(client=config.name, path=str(config.path), platform=config.platform, store=config.store_label)
    result.items.append(CheckItem("config", Status.OK, f"{config.path} is valid"))
    result.items.append(check_secrets(config))
    result.items += await asyncio.to_thread(check_rules, config)
    result.store, store_items = await check_store(config, connector_options=connector_options)
    result.items += store_items
    result.items.append(await asyncio.to_thread(check_email, config.email, timeout=smtp_timeout))
    from winback.check_mail import check_dkim, check_postal_address

    result.items.append(await asyncio.to_thread(check_postal_address, config, store_items))
    result.items.append(await asyncio.to_thread(check_dkim, config))
    if databases is not None and config.database.url in databases:
        result.items.append(databases[config.database.url])
    else:
        item = await asyncio.to_thread(check_database, config.database.url)
        if databases is not None:
            databases[config.database.url] = item
        result.items.append(item)
    return result


async def check_clients(
    configs: Sequence[ClientConfig],
    *,
    concurrency: int = 4,
    connector_options: dict[str, Any] | None = None,
    smtp_timeout: float = 10.0,
) -> list[ClientCheck]:
    """Check every client, a few at once; results in the order of ``configs``.

    Each distinct database is probed once (nothing is created or migrated).
    """
    gate = asyncio.Semaphore(concurrency)
    databases: dict[str | None, CheckItem] = {}
    for url in dict.fromkeys(config.database.url for config in configs):
        databases[url] = await asyncio.to_thread(check_database, url)

    async def one(config: ClientConfig) -> ClientCheck:
        async with gate:
            return await check_client(
                config, connector_options=connector_options, smtp_timeout=smtp_timeout, databases=databases
            )

    return list(await asyncio.gather(*(one(config) for config in configs)))
