"""What ``winback connect`` and the ``winback serve`` callback route share: which client may be
connected, where its token goes, the pending install a ``connect --via-serve`` leaves for the
server, and the last step (check the callback, exchange the code, save the token).

The pending install is a small JSON file next to the client's config (``{stem}.connect.json``,
mode 0600). It holds the SHA-256 of the ``state`` (never the state itself), the redirect URL and
an expiry. The callback claims it by deleting it, so one install URL connects once: a replay, a
second tab or a late retry finds nothing to claim and writes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from winback.config import ClientConfig, save_secrets, secrets_file_of
from winback.config._secrets_write import write_private_file
from winback.connectors.shopify.oauth import InstallRequest, exchange_code, verify_callback
from winback.connectors.shopify.settings import ShopifySettings
from winback.errors import ConfigError, OAuthCallbackError
from winback.secrets import register_secret

CALLBACK_PATH = "/oauth/shopify/callback"
PENDING_SUFFIX = ".connect.json"


def settings_for_connect(config: ClientConfig) -> ShopifySettings:
    """The client's Shopify settings if it uses the authorization code grant; else a ConfigError."""
    settings = config.store.settings
    if config.platform != "shopify" or not isinstance(settings, ShopifySettings):
        raise ConfigError(f"`winback connect` installs Shopify apps; this store's platform is {config.platform}",
                          path=str(config.path), key="store.platform")
    if settings.auth_mode != "authorization-code":
        raise ConfigError(
            f'`winback connect` is for auth = "authorization-code" (this store uses {settings.auth_mode}): set '
            'auth = "authorization-code", client_id and client_secret under [store] (see `winback init --auth`)',
            path=str(config.path), key="store.auth",
        )
    return settings


def secrets_path_for(config: ClientConfig) -> Path:
    """The secrets file the token goes to; a ConfigError if the config names none or holds a token itself."""
    path = secrets_file_of(config.path)
    if path is None:
        name = f"{config.path.stem}.secrets.toml"
        raise ConfigError(
            f'`winback connect` saves the token in the secrets file: add secrets_file = "{name}" at the top '
            "of this file (winback creates it, mode 0600)",
            path=str(config.path), key="secrets_file",
        )
    source = config.sources.get("store.access_token")
    if config.store.settings.access_token is not None and (source is None or source.path != str(path)):  # type: ignore[attr-defined]
        raise ConfigError(
            "access_token is set in this file; remove it so the token `winback connect` gets is read from the "
            f"secrets file {path}", path=str(config.path), key="store.access_token",
        )
    return path


def serve_redirect_uri(public_url: str) -> str:
    """``{public_url}/oauth/shopify/callback``; the public URL must be https (or loopback http for tests)."""
    value = public_url.strip().rstrip("/")
    parts = urlsplit(value)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if (parts.scheme != "https" and not loopback) or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{value!r} must be the https:// address of `winback serve` (http:// only on loopback)",
                          key="public_url")
    return value + CALLBACK_PATH


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingConnect:
    """An install URL printed by ``winback connect --via-serve`` and not used yet."""

    path: Path
    shop: str
    state_sha256: str
    redirect_uri: str
    expires_at: float

    @property
    def config_path(self) -> Path:
        return self.path.with_name(self.path.name[: -len(PENDING_SUFFIX)] + ".toml")

    @classmethod
    def write(cls, config_path: Path, install: InstallRequest, ttl_s: float) -> PendingConnect:
        """Store the pending install durably (0600, atomic), replacing an older one of this client."""
        path = config_path.with_name(config_path.stem + PENDING_SUFFIX)
        record = cls(path, install.settings.shop, _state_hash(install.state), install.settings.redirect_uri,
                     time.time() + ttl_s)
        body = json.dumps({"shop": record.shop, "state_sha256": record.state_sha256,
                           "redirect_uri": record.redirect_uri, "expires_at": record.expires_at})
        write_private_file(path, body)
        return record

    @classmethod
    def find(cls, config_dir: Path, shop: str, state: str) -> PendingConnect | None:
        """The pending install of ``shop`` whose state is ``state`` (compared in constant time)."""
        wanted = _state_hash(state)
        for path in sorted(config_dir.glob(f"*{PENDING_SUFFIX}")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                record = cls(path, str(data["shop"]).lower(), str(data["state_sha256"]), str(data["redirect_uri"]),
                             float(data["expires_at"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if record.shop == shop.lower() and hmac.compare_digest(record.state_sha256, wanted):
                return record
        return None

    def claim(self) -> bool:
        """Spend the record; False if another request spent it first (a replay racing the original)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


async def finish_install(params: Mapping[str, str], install: InstallRequest, secrets_path: Path,
                         claim: PendingConnect | None = None) -> str:
    """Check the callback, spend its pending record, exchange the code and save the offline token
    (with its expiry, refresh token and the refresh token's expiry, in one atomic write; a legacy
    non-expiring token removes any refresh token left from an earlier install).

    Returns the granted scopes. Raises before writing anything on any doubt: nothing is saved
    unless every check passed and Shopify issued a token.
    """
    code = verify_callback(params, install)
    if claim is not None and not claim.claim():
        raise OAuthCallbackError(
            f"{install.settings.shop}: refused an install callback whose state was already used (a replayed "
            "link): nothing was saved; run `winback connect` again and use the new URL"
        )
    tokens, scope = await exchange_code(install.settings, code)
    register_secret(tokens.access_token)
    register_secret(tokens.refresh_token)
    save_secrets(secrets_path, tokens.as_secrets())
    return scope
