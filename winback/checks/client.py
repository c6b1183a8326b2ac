"""One client's whole checklist, and every client's at once: config, secrets, rules and templates,
then the store, email, postal address, DKIM and database lines from their own modules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from winback.checks.compliance import check_dkim, check_postal_address
from winback.checks.email import check_email
from winback.checks.results import CheckItem, ClientCheck, Status
from winback.checks.store import check_store
from winback.config import ClientConfig
from winback.rules.engine import client_rules, email_settings, no_rule_enabled
from winback.rules.preflight import email_problems
from winback.rules.samples import sample_facts
from winback.secrets import redact
from winback.sync.probe import probe_store


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
                                        require_postal_address=False)  # see winback.checks.compliance
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
