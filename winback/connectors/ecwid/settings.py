"""Settings of one Ecwid store: what a client's TOML config holds under ``[stores.<name>]``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_BASE_URL = "https://app.ecwid.com/api/v3"


class EcwidSettings(BaseModel):
    """Connection settings; the endpoint is ``{base_url}/{store_id}``.

    ``requests_per_minute`` paces us on the client side (Ecwid allows about 600 per token);
    a 429 still drains the bucket and waits out ``Retry-After``. ``window_max_records`` bounds
    how many raw records one read holds in memory (see :mod:`winback.connectors.ecwid.reader`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    store_id: str = Field(pattern=r"^[0-9]+$")
    token: SecretStr
    webhook_secret: SecretStr | None = None
    """The app's ``client_secret`` (not the ``secret_…`` token), which signs its webhooks
    (``X-Ecwid-Webhook-Signature``); a ``client_secret`` key, where accepted, serves too."""
    postal_address: str | None = None
    """The sender's postal address for the footer of marketing mail (CAN-SPAM)."""
    birth_date_field: str | None = Field(default=None, min_length=1, max_length=100)
    """Key of the customer extra field holding a birth date (a ``datetime`` field the merchant
    added, see ``GET /store_extrafields/customers``), for the ``birthday`` rule. Ecwid itself keeps
    no birth date on customers."""
    base_url: str = DEFAULT_BASE_URL
    requests_per_minute: int = Field(default=600, gt=0)
    page_size: int = Field(default=100, ge=1, le=100)
    timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    retry_attempts: int = Field(default=6, ge=1)
    retry_base_delay_s: float = Field(default=0.5, ge=0)
    retry_max_delay_s: float = Field(default=30.0, ge=0)
    max_retry_after_s: float = Field(default=120.0, ge=0)
    window_max_records: int = Field(default=1000, ge=100)
    concurrent_requests: int = Field(default=4, ge=1, le=10)
    """How many pages of one window are read at the same time. Ecwid documents a rate limit per
    token (600 requests a minute), not a connection limit, and over the internet a page's round
    trip is far longer than winback's work on it: one request at a time used about half the rate
    at a 200 ms round trip (``bench/sync_latency.py``). The rate limiter still paces every
    request, so more in flight never means more per minute."""

    @field_validator("store_id", mode="before")
    @classmethod
    def _int_like(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):
            return value.strip()
        return value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def store_url(self) -> str:
        return f"{self.base_url}/{self.store_id}"
