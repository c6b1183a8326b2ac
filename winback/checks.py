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
from enum import StrEnum
from pathlib import Path
from typing import Any

from winback.config import ClientConfig, EmailSection
from winback.config._models import mask_url
from winback.connectors.base import Capabilities, InviteMode
from winback.errors import (
    AuthenticationError,
    ConnectorError,
    MissingScopeError,
    StoreNotFoundError,
    WinbackError,
)
from winback.jobs import store_label
from winback.secrets import redact
from winback.sync import open_store
from winback.sync.store import default_database_path


class Status(StrEnum):
    OK = "ok"
    FAIL = "fail"
    SKIPPED = "skipped"
    """Not checked because an earlier check it depends on failed."""


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One line of the checklist."""

    name: str
    """``config``, ``connect``, ``access``, ``capabilities``, ``email``, ``database``."""
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "path": self.path,
            "platform": self.platform,
            "store": self.store,
            "ok": self.ok,
            "checks": [{**asdict(item), "fixes": list(item.fixes), "ok": item.ok} for item in self.items],
        }


# --- scopes ------------------------------------------------------------------------------------

SCOPE_REASONS: dict[str, str] = {
    "read_customers": "winback reads customers to find who to win back",
    "write_customers": "winback creates customer accounts and sends account invites",
    "read_orders": "orders say who bought what and when",
    "read_all_orders": "orders older than 60 days are invisible without it",
    "read_products": "bestseller emails need the product catalogue",
    "write_discounts": "winback creates the discount codes offered in emails",
    "read_discounts": "winback looks up discount codes before creating them",
    "read_store_profile": "the store's name, currency and URL come from its profile",
    "read_catalog": "bestseller emails need the product catalogue",
    "read_discount_coupons": "winback looks up coupons before creating them",
}


def scope_fix(platform: str, scope: str, store: str) -> str:
    reason = SCOPE_REASONS.get(scope, "winback needs it")
    if platform == "shopify":
        return (
            f"add the {scope} scope to the app: {reason} (app settings → Configuration → Access scopes; "
            f"then reinstall the app on {store} and put the new token in the config)"
        )
    if platform == "ecwid":
        return (
            f"give the app the {scope} access scope in Ecwid: {reason} (then reinstall it on {store} "
            "and put the new secret token in the config)"
        )
    return f"grant the {scope} permission to the credentials of {store}: {reason}"


# --- the checks --------------------------------------------------------------------------------


def _connector_fix(exc: BaseException, config: ClientConfig, label: str) -> tuple[str, ...]:
    if isinstance(exc, AuthenticationError):
        key = "access_token" if config.platform == "shopify" else "token"
        return (f"the token for {label} was rejected: create a new one and set store.{key} in {config.path}",)
    if isinstance(exc, StoreNotFoundError):
        key = "shop" if config.platform == "shopify" else "store_id"
        return (f"{label} was not found: check store.{key} in {config.path}",)
    if isinstance(exc, MissingScopeError):
        scope = exc.scope
        return (scope_fix(config.platform, scope, label),) if scope else (str(exc),)
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
    label = store_label(config)
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
        items.append(
            CheckItem(
                "connect",
                Status.OK,
                f"{label}: {info.name} ({info.currency})",
                data={"name": info.name, "currency": info.currency, "url": info.url, "store_id": info.store_id},
            )
        )
        try:
            report = await connector.check_access()
        except Exception as exc:  # noqa: BLE001
            items.append(CheckItem("access", Status.FAIL, _describe(exc, label), _connector_fix(exc, config, label)))
        else:
            missing = sorted(report.missing)
            data = {"granted": sorted(report.granted), "required": sorted(report.required), "missing": missing}
            if missing:
                items.append(
                    CheckItem(
                        "access",
                        Status.FAIL,
                        f"{label}: missing {', '.join(missing)}",
                        tuple(scope_fix(config.platform, scope, label) for scope in missing),
                        data,
                    )
                )
            else:
                items.append(CheckItem("access", Status.OK, f"{label}: all {len(report.required)} required scopes granted", data=data))
        try:
            capabilities = await connector.capabilities()
        except Exception as exc:  # noqa: BLE001
            items.append(CheckItem("capabilities", Status.FAIL, _describe(exc, label), _connector_fix(exc, config, label)))
        else:
            items.append(CheckItem("capabilities", Status.OK, describe_capabilities(capabilities), data=_capability_data(capabilities)))
    return label, items


def describe_capabilities(capabilities: Capabilities) -> str:
    accounts = {
        InviteMode.SEND_INVITE: "classic customer accounts: guest buyers get an account invite email",
        InviteMode.NOT_NEEDED: "new customer accounts: buyers sign in with an emailed code, no invites needed",
        InviteMode.CREATE_CUSTOMER: "guest buyers get a customer record and sign in with an emailed link",
    }[capabilities.invite_mode]
    codes = "discount codes" if capabilities.discount_codes else "no discount codes"
    if capabilities.discount_codes and capabilities.customer_locked_codes:
        codes += " (locked to one customer)"
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
    """Open (creating and migrating as ``winback sync`` would) and close the local store."""
    shown = mask_url(url) if url else str(default_database_path())
    try:
        store = open_store(url)
    except WinbackError as exc:
        return CheckItem(
            "database",
            Status.FAIL,
            redact(str(exc)),
            (
                (
                    "check [database] url: a SQLite file's directory must be writable; a PostgreSQL server "
                    "must be reachable and the user allowed to create tables"
                ),
            ),
            {"url": shown},
        )
    store.close()
    return CheckItem("database", Status.OK, f"{shown} opens, schema up to date", data={"url": shown})


async def check_client(
    config: ClientConfig,
    *,
    connector_options: dict[str, Any] | None = None,
    smtp_timeout: float = 10.0,
    databases: dict[str | None, CheckItem] | None = None,
) -> ClientCheck:
    result = ClientCheck(client=config.name, path=str(config.path), platform=config.platform, store=store_label(config))
    result.items.append(CheckItem("config", Status.OK, f"{config.path} is valid"))
    result.store, store_items = await check_store(config, connector_options=connector_options)
    result.items += store_items
    result.items.append(await asyncio.to_thread(check_email, config.email, timeout=smtp_timeout))
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

    Each distinct database is opened once (sequentially, so two clients sharing a new SQLite
    file do not race to migrate it).
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
