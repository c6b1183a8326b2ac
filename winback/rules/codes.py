"""Discount codes for the built-in rules: how they are named and what is asked of the platform.

A code is ``PREFIX-XXXXXXXX``: the random-looking part is an HMAC-SHA256 of the action's
idempotency key, keyed with a per-store secret (by default the store key), written in an
alphabet without the look-alike characters 0/O, 1/I/L. The same intent therefore always gets the
same code, so a crash between "create the code" and "send the email" re-plans the very same code
(the executor finds it on the platform instead of creating a second one), and two intents never
share one in practice (8 characters of a 31-letter alphabet: about 8.5e11 codes per prefix).
A string already taken by a code winback did not make is replaced by :func:`alternative_code`
(see :mod:`winback.rules.discount_step`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from winback.model import DiscountCodeSpec, DiscountKind

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""Digits and capitals without 0, O, 1, I and L (read aloud or typed from a phone)."""
CODE_LENGTH = 8
PREFIX_PATTERN = r"^[A-Z0-9][A-Z0-9_]{0,19}$"


def code_suffix(idempotency_key: str, secret: str | bytes, length: int = CODE_LENGTH) -> str:
    """``length`` characters of :data:`ALPHABET` derived from the key; stable and unguessable
    without ``secret``."""
    key = secret.encode() if isinstance(secret, str) else secret
    number = int.from_bytes(hmac.new(key, idempotency_key.encode(), hashlib.sha256).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "".join(chars)


def make_code(prefix: str, idempotency_key: str, secret: str | bytes) -> str:
    """``PREFIX-XXXXXXXX`` for one action (see the module docstring)."""
    return f"{prefix}-{code_suffix(idempotency_key, secret)}"


def alternative_code(code: str, attempt: int) -> str:
    """The ``attempt``-th replacement for ``code`` when that string is taken by someone else's
    code: the same prefix and a new suffix derived from ``code`` itself (so as stable and as hard
    to guess as it is, without knowing the secret it was made with)."""
    prefix, _, _ = code.rpartition("-")
    return f"{prefix or code}-{code_suffix(f'attempt {attempt}', code)}"


class DiscountOffer(BaseModel):
    """The discount a rule attaches to its email (``discount = {kind = ..., value = ...}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DiscountKind
    value: Decimal = Field(gt=0)
    """Percent (``10`` for 10 %) or an amount in the store currency."""
    valid_days: int = Field(default=30, ge=1, le=3650)
    prefix: str = Field(default="BACK", pattern=PREFIX_PATTERN)

    @model_validator(mode="after")
    def _percent_at_most_100(self) -> DiscountOffer:
        if self.kind is DiscountKind.PERCENTAGE and self.value > 100:
            raise ValueError("a percentage discount cannot exceed 100")
        return self


def discount_spec(
    offer: DiscountOffer,
    *,
    idempotency_key: str,
    secret: str | bytes,
    now: datetime,
    title: str,
    customer_id: str | None,
) -> DiscountCodeSpec:
    """The one-use code for one recipient: once per customer, usage limit 1, ends after
    ``valid_days``, locked to ``customer_id`` where the platform allows it. The platform admin
    shows ``title`` followed by the code (no personal data in it)."""
    code = make_code(offer.prefix, idempotency_key, secret)
    return DiscountCodeSpec(
        code=code,
        title=f"{title} {code}",
        kind=offer.kind,
        value=offer.value,
        starts_at=now,
        ends_at=now + timedelta(days=offer.valid_days),
        once_per_customer=True,
        usage_limit=1,
        customer_id=customer_id,
    )


def template_discount(spec: DiscountCodeSpec) -> dict[str, Any]:
    """The ``discount`` object of the email templates (``code, kind, value, ends_at``)."""
    return {
        "code": spec.code,
        "kind": spec.kind.value,
        "value": str(spec.value),
        "ends_at": spec.ends_at.isoformat() if spec.ends_at else None,
    }
