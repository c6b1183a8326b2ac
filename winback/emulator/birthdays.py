"""Birth dates for emulated customers (a test and demo knob, ``--birthdays``).

Neither platform has a birth date of its own: a Shopify merchant keeps one in a customer metafield
(type ``date``), an Ecwid merchant in a customer extra field. The world has none, so this knob
gives every fifth customer one, spread over the fortnight after ``today`` (the real date, since
``winback run`` plans by the clock, not by the emulated world's end) and over the years, so a
birthday rule run today always has some customers to find.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

EVERY = 5
"""One customer in this many gets a birth date."""


def seeded_birth_dates(keys: Iterable[int], today: date) -> dict[int, date]:
    out: dict[int, date] = {}
    for key in keys:
        if key % EVERY:
            continue
        day = today + timedelta(days=(key // EVERY) % 14)
        year = 1960 + key % 45
        try:
            out[key] = day.replace(year=year)
        except ValueError:  # 29 February in a common year
            out[key] = day.replace(year=year, day=28)
    return out
