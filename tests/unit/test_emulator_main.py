"""``winback-emulator`` argument parsing: bad fault kinds are usage errors, not tracebacks."""

from __future__ import annotations

import pytest

from winback.emulator.__main__ import _parser
from winback.emulator.server import FAULT_KINDS


def test_fault_kinds_parse_into_a_tuple() -> None:
    args = _parser().parse_args(["shopify", "--fault-kinds", "500, drop,malformed"])
    assert args.fault_kinds == ("500", "drop", "malformed")


def test_default_fault_kinds_are_all_but_drop_after() -> None:
    assert _parser().parse_args(["ecwid"]).fault_kinds == tuple(k for k in FAULT_KINDS if k != "drop_after")


def test_unknown_fault_kind_is_a_usage_error_listing_valid_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["shopify", "--fault-kinds", "500,bogus"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: winback-emulator")
    assert "--fault-kinds: unknown fault kind 'bogus'" in err
    assert ", ".join(FAULT_KINDS) in err


def test_fault_kinds_help_lists_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--fault-kinds" in out and all(kind in out for kind in FAULT_KINDS)


def test_shopify_shops_have_customer_accounts_unless_asked_for_a_legacy_shop() -> None:
    from winback.emulator.__main__ import start_from_args
    from winback.emulator.shopify import ShopifyEmulator

    assert _parser().parse_args(["shopify"]).customer_accounts == "NEW_CUSTOMER_ACCOUNTS"
    args = _parser().parse_args(["shopify", "--customers", "3", "--products", "2", "--customer-accounts", "CLASSIC"])
    server, _ = start_from_args(args)
    try:
        assert isinstance(server.app, ShopifyEmulator) and server.app.customer_accounts == "CLASSIC"
    finally:
        server.stop()


def test_ecwid_scopes_default_to_a_new_custom_apps_and_all_grants_every_one(capsys: pytest.CaptureFixture[str]) -> None:
    from winback.emulator.ecwid import ALL_SCOPES

    assert _parser().parse_args(["ecwid"]).scopes is None  # the emulator's default: orders and products
    assert set(_parser().parse_args(["ecwid", "--scopes", "all"]).scopes) == ALL_SCOPES
    assert _parser().parse_args(["ecwid", "--scopes", "read_orders, read_customers"]).scopes == (
        "read_orders", "read_customers")
    with pytest.raises(SystemExit):
        _parser().parse_args(["ecwid", "--scopes", "read_everything"])
    assert "unknown Ecwid scope 'read_everything'" in capsys.readouterr().err
