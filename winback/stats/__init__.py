"""Customer-base models shared by the rules and the report (numpy and SciPy only, no store).

``winback.rules`` times reminders with them and ``winback.report`` predicts with them, so they
live below both: this package imports nothing of winback's.
"""

from winback.stats.bgnbd import (
    BgNbd,
    expected_purchases,
    fit_bgnbd,
    fit_sample,
    p_alive,
    usable,
)

__all__ = ["BgNbd", "expected_purchases", "fit_bgnbd", "fit_sample", "p_alive", "usable"]
