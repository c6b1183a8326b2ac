"""``winback init``: write a commented starter config for one client's store.

The file never holds a secret: tokens and passwords are ``${ENV_VAR}`` references that
:func:`winback.config.load_config` expands when the config is loaded. It is created with mode
0600 anyway (it names the store and where its data lives) and never overwritten without ``--force``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click

from winback.connectors.base import AuthChoice, Connector
from winback.connectors.registry import available_platforms, load_connector_class

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Answers:
    """Everything the starter config is made of."""

    platform: str
    store: str
    """The value of the platform's store setting (the myshopify domain, the Ecwid store id, ...)."""
    token_env: str
    name: str | None = None
    database: str = "winback.db"
    email_sender: str = "outbox"
    from_address: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password_env: str | None = None
    base_url: str | None = None
    auth: str | None = None
    """One of the profile's :attr:`~winback.connectors.base.ConnectorProfile.auth_choices`; ``None``: the credential line."""
    client_id: str | None = None
    secret_env: str | None = None
    secrets_file: str | None = None


def _q(value: str) -> str:
    """A TOML basic string (JSON's string escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def _c(code: str, comment: str) -> str:
    return f"{code:<38} # {comment}"


def render_config(a: Answers) -> str:
    """The starter config's text: the comments of ``examples/client.toml`` around the answers."""
    lines = [
        "# A winback client config: one file per merchant store.",
        "# Check it with `winback check --config FILE`, sync with `winback sync --config FILE`,",
        "# or put many such files in one directory and use --config-dir DIR (*.secrets.toml are skipped).",
        "#",
        "# No secret is written here: ${NAME} values are read from the environment when loading.",
        "# Before running winback: " + " ".join(f"export {env}=..." for env in exports(a)),
        "",
        "# Optional: a TOML file of plain `key = value` pairs merged into [store], relative to this file.",
        "# Keep it private (chmod 600); winback warns when others can read it.",
        f"secrets_file = {_q(a.secrets_file)}" if a.secrets_file else '# secrets_file = "client.secrets.toml"',
        "",
        "[client]",
        _c(f"name = {_q(a.name)}" if a.name else '# name = "Acme Apparel"', "label in logs and tables; default: this file's name"),
        "",
        "[store]",
        _c(f"platform = {_q(a.platform)}", '"shopify", "ecwid", or a plugin\'s entry-point name'),
        "# Every other key here is checked by the platform's own settings model.",
    ]
    profile = load_connector_class(a.platform).profile
    choice = _auth_choice(a)
    credential = (
        [line.format(client_id=a.client_id or "", secret_env=a.secret_env or "", token_env=a.token_env)
         for line in choice.store_lines]
        if choice is not None and choice.store_lines
        else [_c(f'{profile.credential_setting} = "${{{a.token_env}}}"', profile.credential_comment)]
    )
    lines += [
        _c(f"{profile.store_setting} = {_q(a.store)}", profile.store_comment),
        *credential,
        *profile.config_notes,
    ]
    lines.append(
        _c(f"base_url = {_q(a.base_url)}" if a.base_url else '# base_url = "http://127.0.0.1:8801"', "emulators and compatible servers")
    )
    lines += [
        "",
        "[database]",
        "# A SQLAlchemy URL (sqlite:////abs/path.db, postgresql+psycopg://user@host/db),",
        "# or a plain path (relative to this file) for SQLite. Leave out for winback's default file.",
        f"url = {_q(a.database)}",
        "",
        "[sync]",
        'resources = ["customers", "orders", "products"]   # what `winback sync` reads',
        "overlap_minutes = 10                               # re-read this much behind each cursor",
        "",
        _c("[email]", "used by rules"),
        _c(f"sender = {_q(a.email_sender)}", '"outbox" writes .eml files; "smtp" sends them'),
        (f"from_address = {_q(a.from_address)}" if a.from_address else '# from_address = "Acme Apparel <hello@acme.example>"'),
    ]
    if a.email_sender == "smtp":
        lines += [
            f"smtp_host = {_q(a.smtp_host or '')}",
            f"smtp_port = {a.smtp_port}",
            (f"smtp_username = {_q(a.smtp_username)}" if a.smtp_username else '# smtp_username = "winback"'),
            (f'smtp_password = "${{{a.smtp_password_env}}}"' if a.smtp_password_env else '# smtp_password = "${SMTP_PASSWORD}"'),
            _c("# smtp_starttls = true", "default: on unless smtp_ssl = true (port 465)"),
            "# smtp_ssl = false",
            "rate_per_minute = 60",
        ]
    else:
        lines += [
            _c('outbox_dir = "outbox"', "relative to this file"),
            "rate_per_minute = 60",
            '# sender = "smtp" sends instead; then set smtp_host, smtp_port, smtp_username and',
            '# smtp_password = "${SMTP_PASSWORD}"',
        ]
    lines += [
        "",
        "# One table per rule; each rule checks its own options.",
        "# [rules.back_to_bestsellers]",
        "# after_days = 180",
        "",
        "[schedule]",
        "# Used by `winback schedule` (else its --every); minute hour day-of-month month day-of-week.",
        '# cron = "17 * * * *"',
        "",
    ]
    return "\n".join(lines)


def _auth_choice(a: Answers) -> AuthChoice | None:
    if a.auth is None:
        return None
    return next(c for c in load_connector_class(a.platform).profile.auth_choices if c.name == a.auth)


def exports(a: Answers) -> list[str]:
    """The variables the merchant exports before running winback with this config."""
    choice = _auth_choice(a)
    names = {"token_env": a.token_env, "secret_env": a.secret_env}
    found = [names[key] for key in choice.exports] if choice is not None else [a.token_env]
    if a.email_sender == "smtp" and a.smtp_password_env:
        found.append(a.smtp_password_env)
    return [name for name in found if name]


def default_token_env(platform: str, store: str) -> str:
    """``acme.myshopify.com`` → ``ACME_SHOPIFY_TOKEN``; Ecwid ``1003`` → ``ECWID_1003_TOKEN``
    (the platform's profile decides)."""
    return load_connector_class(platform).profile.defaults_for(platform, store)[1]


def default_path(platform: str, store: str) -> Path:
    return Path(load_connector_class(platform).profile.defaults_for(platform, store)[0] + ".toml")


# --- validation of answers ---------------------------------------------------------------------


def _store_value(connector: type[Connector], value: str) -> str:
    try:
        return connector.normalise_store(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _env_name(value: str) -> str:
    value = value.strip().removeprefix("${").removesuffix("}").removeprefix("$")
    if not _ENV_NAME.match(value):
        raise click.BadParameter(
            f"{value!r} is not an environment variable name: use letters, digits and _ (e.g. ACME_SHOPIFY_TOKEN); "
            "give the variable's name, never the secret itself"
        )
    return value


def _callback(check):  # type: ignore[no-untyped-def]
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        return None if value is None else check(value)

    return callback


# --- the command -------------------------------------------------------------------------------


@click.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--platform", help="The store's platform: shopify, ecwid or an installed plugin's name.")
@click.option("--store", "store_value", help="The store, as the platform names it (its store setting).")
@click.option("--shop", help="Shopify: the myshopify domain, e.g. acme.myshopify.com (same as --store).")
@click.option("--store-id", help="Ecwid: the store id, a number (same as --store).")
@click.option("--token-env", callback=_callback(_env_name), help="Environment variable holding the access token.")
@click.option("--name", help="Client name shown in logs and tables.")
@click.option("--database", help="SQLAlchemy URL or SQLite path (relative to the config).  [default: winback.db]")
@click.option("--email-sender", type=click.Choice(["outbox", "smtp"]), help="How rules send email.  [default: outbox]")
@click.option("--from-address", help='Sender of the emails, e.g. "Acme <hello@acme.example>".')
@click.option("--smtp-host", help="SMTP server (with --email-sender smtp).")
@click.option("--smtp-port", type=click.IntRange(1, 65535), help="SMTP port.  [default: 587]")
@click.option("--smtp-username", help="SMTP login name.")
@click.option("--smtp-password-env", callback=_callback(_env_name), help="Environment variable holding the SMTP password.")
@click.option("--base-url", help="API base URL for emulators and compatible servers.")
@click.option("--auth", help="How the store is reached (Shopify: access-token, client-credentials or authorization-code).")
@click.option("--client-id", help="The Dev Dashboard app's client ID (client-credentials, authorization-code).")
@click.option("--client-secret-env", callback=_callback(_env_name), help="Environment variable holding the app's client secret.")
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@click.option(
    "--interactive/--no-interactive",
    default=None,
    help="Ask for missing values (default: when stdin is a terminal).",
)
def init(
    path: Path | None,
    platform: str | None,
    store_value: str | None,
    shop: str | None,
    store_id: str | None,
    token_env: str | None,
    name: str | None,
    database: str | None,
    email_sender: str | None,
    from_address: str | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_username: str | None,
    smtp_password_env: str | None,
    base_url: str | None,
    auth: str | None,
    client_id: str | None,
    client_secret_env: str | None,
    force: bool,
    interactive: bool | None,
) -> None:
    """Write a commented starter config for one store to PATH (default: <shop>.toml).

    Secrets are never written: the file refers to them as ${ENV_VAR}. The file is created with
    mode 0600 and an existing file is kept unless --force is given.
    """
    ask = sys.stdin.isatty() if interactive is None else interactive
    platforms = available_platforms()
    if platform is None:
        if not ask:
            raise click.UsageError(f"give --platform {'|'.join(platforms)} (or run on a terminal to be asked)")
        platform = click.prompt("Platform", type=click.Choice(platforms), default=platforms[0])
    if platform not in platforms:
        raise click.UsageError(f"no platform {platform!r} is installed: choose one of {', '.join(platforms)}")
    connector = load_connector_class(platform)
    profile = connector.profile
    given = {"--store": store_value, "--shop": shop, "--store-id": store_id}
    aliases = {"--shop": "shop", "--store-id": "store_id"}
    for flag, setting in aliases.items():
        if given[flag] is not None and setting != profile.store_setting:
            raise click.UsageError(f"{flag} is not a {profile.display_name} setting: give --store (its {profile.store_setting})")
    raw = next((value for value in given.values() if value is not None), None)
    if raw is not None:
        store = _store_value(connector, raw)
    else:
        flag = f"--store (the {profile.display_name} {profile.store_setting})"
        store = _required(ask, profile.store_prompt, flag, lambda value: _store_value(connector, value))
    choice = _choose_auth(profile.auth_choices, auth, ask, profile.display_name)
    secret_env = None
    if choice is not None and choice.needs_client_id:
        client_id = client_id or _required(ask, "Client ID of the app (Dev Dashboard → your app → Settings)", "--client-id", _client_id)
        default_secret = default_token_env(platform, store).removesuffix("_TOKEN") + "_CLIENT_SECRET"
        secret_env = client_secret_env or _optional(ask, "Environment variable holding the client secret", default_secret, _env_name)
    if choice is None or "token_env" in choice.exports:
        token_env = token_env or _optional(
            ask, "Environment variable holding the access token", default_token_env(platform, store), _env_name
        )
    else:
        token_env = token_env or default_token_env(platform, store)
    database = database or _optional(ask, "Database (SQLAlchemy URL or SQLite path)", "winback.db", str)
    if email_sender is None:
        email_sender = click.prompt("Email sender", type=click.Choice(["outbox", "smtp"]), default="outbox") if ask else "outbox"
    if from_address is None and ask:
        from_address = click.prompt("From address (empty: fill in later)", default="", show_default=False) or None
    if email_sender == "smtp":
        smtp_host = smtp_host or _required(ask, "SMTP host", "--smtp-host", str)
        if smtp_port is None:
            smtp_port = click.prompt("SMTP port", type=click.IntRange(1, 65535), default=587) if ask else 587
        if smtp_username is None and ask:
            smtp_username = click.prompt("SMTP username (empty: none)", default="", show_default=False) or None
        if smtp_password_env is None and smtp_username:
            smtp_password_env = _optional(ask, "Environment variable holding the SMTP password", "SMTP_PASSWORD", _env_name)
    answers = Answers(
        platform=platform,
        store=store,
        token_env=token_env,
        name=name,
        database=database,
        email_sender=email_sender,
        from_address=from_address,
        smtp_host=smtp_host,
        smtp_port=smtp_port or 587,
        smtp_username=smtp_username,
        smtp_password_env=smtp_password_env,
        base_url=base_url,
        auth=choice.name if choice is not None else None,
        client_id=client_id,
        secret_env=secret_env,
    )
    target = path or default_path(platform, store)
    if ask and path is None:
        target = Path(click.prompt("Write the config to", default=str(target)))
    if choice is not None and choice.secrets_file:
        answers = dataclasses.replace(answers, secrets_file=f"{target.stem}.secrets.toml")
    text = render_config(answers)
    tomllib.loads(text)  # a template bug must not reach the merchant's disk
    write_private(target, text, force=force)
    click.echo(f"wrote {target} (mode 0600)")
    if answers.secrets_file:
        secrets_path = target.parent / answers.secrets_file
        if not secrets_path.exists():
            write_private(secrets_path, f"# Secrets merged into [store] of {target.name}; keep this file private.\n", force=False)
            click.echo(f"wrote {secrets_path} (mode 0600, empty: `winback connect` saves the token there)")
    click.echo("next:")
    click.echo("  " + " ".join(f"export {env}=..." for env in exports(answers)))
    click.echo("  " + (choice.next_step if choice is not None else "winback check --config {config}").format(config=target))


def _choose_auth(choices: tuple[AuthChoice, ...], auth: str | None, ask: bool, platform: str) -> AuthChoice | None:
    """The auth choice from ``--auth`` or asked; off a terminal the first (the classic credential)."""
    names = [choice.name for choice in choices]
    if not choices:
        if auth is not None:
            raise click.UsageError(f"--auth is not a {platform} setting: give the credential with --token-env")
        return None
    if auth is None:
        if not ask:
            return choices[0]
        click.echo(f"How does winback reach the {platform} store? You have:")
        for choice in choices:
            click.echo(f"  {choice.name:<20} {choice.question}")
        auth = click.prompt("Auth", type=click.Choice(names), default=names[1] if len(names) > 1 else names[0])
    if auth not in names:
        raise click.UsageError(f"--auth {auth!r} is not known for {platform}: choose one of {', '.join(names)}")
    return choices[names.index(auth)]


def _client_id(value: str) -> str:
    value = value.strip()
    if not value or any(c.isspace() or c in "\"'\\" for c in value):
        raise click.BadParameter("give the app's client ID as shown in the Dev Dashboard (no spaces or quotes)")
    return value


def _required(ask: bool, prompt: str, flag: str, check):  # type: ignore[no-untyped-def]
    if not ask:
        raise click.UsageError(f"give {flag} (or run on a terminal to be asked)")
    return click.prompt(prompt, value_proc=check)


def _optional(ask: bool, prompt: str, default: str, check):  # type: ignore[no-untyped-def]
    if not ask:
        return default
    return click.prompt(prompt, default=default, value_proc=check)


def write_private(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` with mode 0600; an existing file only with ``force`` (then atomically)."""
    if path.is_dir():
        raise click.ClickException(f"{path} is a directory: give a file name such as {path / 'client.toml'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not force:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise click.ClickException(
                f"{path} already exists: give --force to overwrite it, or choose another PATH"
            ) from None
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
