"""The ``connect``, ``access`` and ``capabilities`` lines: can winback reach the store, with every
scope it needs, and what the store can do. Every failure carries the fix a merchant can act on;
texts from servers pass through :func:`winback.secrets.redact`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from winback.checks.results import CheckItem, Status
from winback.config import ClientConfig
from winback.connectors.base import Capabilities, InviteMode
from winback.errors import (
    AuthenticationError,
    TokenGrantError,
    ConnectorError,
    MissingScopeError,
    StoreNotFoundError,
    WinbackError,
)
from winback.secrets import redact


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
