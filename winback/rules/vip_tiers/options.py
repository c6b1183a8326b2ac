"""``[rules.vip_tiers]``: the tiers, the window they are measured over, and the welcome email."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from winback.rules.base import RuleOptions
from winback.rules.codes import PREFIX_PATTERN, DiscountOffer


class Tier(BaseModel):
    """One tier (``{name = "Gold", min_spend = 1000}``): conditions given together must all hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40, pattern=r"^[^,]+$")
    """Shown to the customer and, with the rule's ``label_prefix``, on the platform (a tag holds no
    comma on Shopify)."""
    min_spend: Decimal | None = Field(default=None, gt=0)
    """Real (net) spend over the window, in the store currency."""
    min_orders: int | None = Field(default=None, ge=1)
    """Real orders over the window."""

    @model_validator(mode="after")
    def _one_condition(self) -> Tier:
        if self.min_spend is None and self.min_orders is None:
            raise ValueError(f"tier {self.name!r} needs min_spend or min_orders")
        return self

    def describe(self) -> str:
        parts = []
        if self.min_spend is not None:
            parts.append(f"spend ≥ {self.min_spend.normalize():f}")
        if self.min_orders is not None:
            parts.append(f"orders ≥ {self.min_orders}")
        return " and ".join(parts)


class VipPerk(DiscountOffer):
    """The one-use code of a welcome email (prefix ``VIP`` unless given)."""

    prefix: str = Field(default="VIP", pattern=PREFIX_PATTERN)


class VipTiersOptions(RuleOptions):
    """``[rules.vip_tiers]``; ``[[rules.vip_tiers.tiers]]`` lowest first."""

    tiers: list[Tier] = Field(min_length=1, max_length=10)
    """Lowest first: a customer gets the highest tier whose conditions they meet."""
    window_days: int = Field(default=365, ge=1, le=3650)
    """Spend and orders are counted over the real orders of this many days."""
    label_prefix: str = Field(default="VIP ", max_length=40, pattern=r"^[^,]*$")
    """The platform label is prefix + tier name: the Shopify customer tag or the Ecwid customer
    group ``VIP Gold``."""
    welcome_email: bool = True
    """Moving up sends a "welcome to Gold" email (marketing: consent, cap, quiet hours apply)."""
    template: str = Field(default="vip_welcome", pattern=r"^[A-Za-z0-9_.-]+$")
    perk: VipPerk | None = None
    """A one-use code in the welcome email, e.g. ``{kind = "percentage", value = 15}``."""
    welcome_within_days: int = Field(default=30, ge=1)
    """Only an upgrade earned by an order this recent is welcomed by email; older upgrades (the
    first run over years of history) are recorded on the platform silently."""

    @model_validator(mode="after")
    def _distinct_names(self) -> VipTiersOptions:
        names = [tier.name.casefold() for tier in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tier names must differ (case-insensitively)")
        return self

    def label(self, name: str | None) -> str | None:
        return None if name is None else f"{self.label_prefix}{name}"

    @property
    def labels(self) -> list[str]:
        return [f"{self.label_prefix}{tier.name}" for tier in self.tiers]

    def rank(self, name: str | None) -> int:
        """-1 for no tier, else the tier's position (higher is better)."""
        folded = [tier.name.casefold() for tier in self.tiers]
        return -1 if name is None or name.casefold() not in folded else folded.index(name.casefold())
