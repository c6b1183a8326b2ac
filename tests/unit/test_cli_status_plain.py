"""``winback status`` off a terminal shows what the rich view shows under its table."""

from __future__ import annotations

from winback.cli.status import _plain


def test_plain_status_shows_disconnected_and_consent_pending() -> None:
    """Review item 10: piped or logged status (cron, CI) must not hide an uninstalled app or
    consent changes still waiting for the platform."""
    entry = {
        "client": "acme", "store_key": "ecwid:1", "last_sync_started": None, "last_sync_finished": None,
        "cursors": {}, "counts": {"customers": 0}, "last_error": "partial: customers unreachable (ask Ecwid)",
        "disconnected_at": "2026-11-24T09:20:31+00:00", "consent_pending": 2,
    }
    text = _plain(entry)
    assert "disconnected: app uninstalled 2026-11-24 09:20 UTC" in text
    assert "consent pending: 2 change(s)" in text
    assert "last error: sync: partial: customers unreachable (ask Ecwid)" in text
    quiet = _plain({**entry, "disconnected_at": None, "consent_pending": 0})
    assert "disconnected" not in quiet and "consent pending" not in quiet
