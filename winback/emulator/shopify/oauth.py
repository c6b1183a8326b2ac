"""Shopify's OAuth endpoints as the emulator serves them, shaped after shopify.dev:

* ``POST /admin/oauth/access_token`` (form or JSON body): the **client credentials grant**
  (``grant_type=client_credentials``, ``client_id``, ``client_secret``) answers ``{access_token,
  scope, expires_in}``; the **authorization code grant** (``client_id``, ``client_secret``,
  ``code``; ``grant_type=authorization_code`` optional) answers ``{access_token, scope}`` with a
  non-expiring offline token, or with ``expiring=1`` an expiring one: ``{access_token, scope,
  expires_in, refresh_token, refresh_token_expires_in}``. A code works once and for ten minutes.
* the **refresh token grant** (``grant_type=refresh_token``, ``refresh_token``, ``client_id``,
  ``client_secret``) answers a new expiring pair and *replaces* the refresh token. As on Shopify
  since August 2026, a used refresh token stays valid until the app uses its replacement (at most
  ``refresh_retention_s`` after its first use; 0 gives the older strict rotation); using the
  replacement retires it. An unknown, retired or expired refresh token gets 400 ``invalid_grant``.
* ``GET /admin/oauth/authorize?client_id&scope&redirect_uri&state``: a small approval page whose
  Approve button posts back here; the answer redirects to ``redirect_uri`` with ``code``, ``hmac``,
  ``host``, ``shop``, ``state`` and ``timestamp``. ``hmac`` is the hex HMAC-SHA256, keyed with the
  client secret, of the other parameters sorted by name and joined as ``k=v`` with ``&``.

Tokens from the client credentials grant expire after ``token_lifetime`` seconds, expiring offline
tokens after ``offline_token_lifetime`` (3600) and refresh tokens after ``refresh_token_lifetime``
(90 days); an expired token gets the same 401 as a wrong one, as on Shopify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from winback.emulator.server import Request, Response

TOKEN_PATH = "/admin/oauth/access_token"
AUTHORIZE_PATH = "/admin/oauth/authorize"
CODE_LIFETIME_S = 600.0


def callback_hmac(params: dict[str, str], secret: str) -> str:
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass
class _RefreshToken:
    parent: str
    """The refresh token this one replaced (``""`` for the one issued with the code)."""
    expires_at: float
    first_used_at: float | None = None
    retired: bool = False


@dataclass
class OAuthEndpoints:
    """The app's credentials as the shop knows them, and the tokens and codes it issued."""

    shop_domain: str
    scopes: tuple[str, ...]
    static_token: str
    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"
    token_lifetime: int = 86399
    redirect_uris: tuple[str, ...] | None = None
    """Redirect URLs allowed for the app; ``None``: any."""
    offline_token_lifetime: int = 3600
    refresh_token_lifetime: int = 90 * 86400
    refresh_retention_s: float = 30 * 86400.0
    grants: list[dict[str, Any]] = field(default_factory=list)
    """Every token issued, in order: ``{"grant_type", "expires_at"}`` (for tests)."""
    refused_refreshes: int = 0
    """Refresh requests answered ``invalid_grant`` (for tests)."""
    _tokens: dict[str, float | None] = field(default_factory=dict)
    _refresh: dict[str, _RefreshToken] = field(default_factory=dict)
    _codes: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token_valid(self, token: str | None) -> bool:
        if not token:
            return False
        if token == self.static_token:
            return True
        with self._lock:
            if token not in self._tokens:
                return False
            expires_at = self._tokens[token]
        return expires_at is None or time.time() < expires_at

    def expire_all(self) -> None:
        """Test hook: every issued expiring token expires now."""
        with self._lock:
            for token, expires_at in self._tokens.items():
                if expires_at is not None:
                    self._tokens[token] = 0.0

    def expire_refresh_tokens(self) -> None:
        """Test hook: every refresh token expires now (as after 90 days without a renewal)."""
        with self._lock:
            for record in self._refresh.values():
                record.expires_at = 0.0

    def handle(self, request: Request) -> Response:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        if request.path == AUTHORIZE_PATH and request.method == "GET":
            return self._authorize_page(request)
        if request.path == AUTHORIZE_PATH and request.method == "POST":
            return self._approve(request)
        return Response.json({"errors": "Not Found"}, status=404)

    # --- the token endpoint ------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = _body_params(request)
        if form.get("client_id") != self.client_id or not hmac.compare_digest(
            form.get("client_secret", "").encode(), self.client_secret.encode()
        ):
            return Response.json({"error": "invalid_client",
                                  "error_description": "Client authentication failed: unknown client or wrong secret."},
                                 status=400)
        grant_type = form.get("grant_type", "authorization_code" if "code" in form else "")
        if grant_type == "client_credentials":
            return self._issue("client_credentials", self.token_lifetime)
        if grant_type == "authorization_code":
            code = form.get("code", "")
            with self._lock:
                issued = self._codes.pop(code, None)
            if issued is None or time.time() - issued > CODE_LIFETIME_S:
                return Response.json({"error": "invalid_request",
                                      "error_description": "The authorization code was not found or was already used"},
                                     status=400)
            if form.get("expiring") == "1":
                return self._issue("authorization_code", self.offline_token_lifetime, refresh_parent="")
            return self._issue("authorization_code", None)
        if grant_type == "refresh_token":
            return self._refresh_grant(form.get("refresh_token", ""))
        return Response.json({"error": "unsupported_grant_type",
                              "error_description": f"grant_type {grant_type!r} is not supported"}, status=400)

    def _refresh_grant(self, token: str) -> Response:
        now = time.time()
        with self._lock:
            record = self._refresh.get(token)
            usable = (
                record is not None and not record.retired and now < record.expires_at
                and (record.first_used_at is None or now - record.first_used_at <= self.refresh_retention_s)
            )
            if not usable or record is None:
                self.refused_refreshes += 1
                return Response.json({"error": "invalid_grant",
                                      "error_description": "The refresh token is invalid, expired or revoked"},
                                     status=400)
            if record.first_used_at is None:
                record.first_used_at = now
            parent = self._refresh.get(record.parent)
            if parent is not None:
                parent.retired = True  # the app uses the replacement: the token it replaced is retired
        return self._issue("refresh_token", self.offline_token_lifetime, refresh_parent=token)

    def _issue(self, grant_type: str, lifetime: int | None, *, refresh_parent: str | None = None) -> Response:
        token = "shpat_" + secrets.token_hex(16)
        expires_at = None if lifetime is None else time.time() + lifetime
        body: dict[str, Any] = {"access_token": token, "scope": ",".join(self.scopes)}
        with self._lock:
            self._tokens[token] = expires_at
            self.grants.append({"grant_type": grant_type, "expires_at": expires_at})
            if refresh_parent is not None:
                refresh = "shprt_" + secrets.token_hex(16)
                self._refresh[refresh] = _RefreshToken(refresh_parent, time.time() + self.refresh_token_lifetime)
                body["refresh_token"] = refresh
                body["refresh_token_expires_in"] = self.refresh_token_lifetime
        if lifetime is not None:
            body["expires_in"] = lifetime
        return Response.json(body)

    # --- the install page --------------------------------------------------------------------

    def _install_error(self, message: str) -> Response:
        page = f"<!doctype html><title>Oauth error</title><h1>Oauth error invalid_request</h1><p>{html.escape(message)}</p>"
        return Response(status=400, body=page.encode(), content_type="text/html; charset=utf-8")

    def _check_install(self, params: dict[str, str]) -> str | None:
        if params.get("client_id") != self.client_id:
            return "Invalid client_id: the app was not found."
        redirect = params.get("redirect_uri", "")
        if not redirect.startswith(("http://", "https://")):
            return "The redirect_uri is missing or not a URL."
        if self.redirect_uris is not None and redirect not in self.redirect_uris:
            return "The redirect_uri is not whitelisted"
        return None

    def _authorize_page(self, request: Request) -> Response:
        params = {name: values[0] for name, values in request.query.items() if values}
        problem = self._check_install(params)
        if problem:
            return self._install_error(problem)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(params.get(name, ""))}">'
            for name in ("client_id", "scope", "redirect_uri", "state")
        )
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in params.get("scope", "").split(",") if s)
        page = (
            "<!doctype html><html><head><meta charset=utf-8><title>Install app</title></head><body>"
            f"<h1>Install app on {html.escape(self.shop_domain)}</h1>"
            f"<p>The app will be able to:</p><ul>{scopes}</ul>"
            f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}'
            '<button id="approve" type="submit">Approve</button></form></body></html>'
        )
        return Response(status=200, body=page.encode(), content_type="text/html; charset=utf-8")

    def _approve(self, request: Request) -> Response:
        params = _body_params(request)
        problem = self._check_install(params)
        if problem:
            return self._install_error(problem)
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = time.time()
        handle = self.shop_domain.split(".", 1)[0]
        callback = {
            "code": code,
            "host": base64.b64encode(f"admin.shopify.com/store/{handle}".encode()).decode().rstrip("="),
            "shop": self.shop_domain,
            "state": params.get("state", ""),
            "timestamp": str(int(time.time())),
        }
        callback["hmac"] = callback_hmac(callback, self.client_secret)
        location = f"{params['redirect_uri']}?{urlencode(sorted(callback.items()))}"
        return Response(status=302, body=b"", headers={"Location": location}, content_type="text/html")


def _body_params(request: Request) -> dict[str, str]:
    """A form or JSON body as flat strings (Shopify accepts both on its OAuth endpoints)."""
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}
