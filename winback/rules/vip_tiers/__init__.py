"""``vip_tiers``: tiers by spend or orders over a window, written to the platform (see :mod:`.rule`)."""

from winback.rules.vip_tiers.options import Tier, VipPerk, VipTiersOptions
from winback.rules.vip_tiers.rule import VipTiers

__all__ = ["Tier", "VipPerk", "VipTiers", "VipTiersOptions"]
