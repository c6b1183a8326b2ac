"""Plugins installed the way pip leaves them, for tests: a ``*.dist-info`` folder whose
``entry_points.txt`` names the classes, found by :mod:`importlib.metadata` once its parent folder is
on ``sys.path`` (or ``PYTHONPATH`` for a ``winback`` process). Tests of the registries, of rules
shipped as plugins and of commands running them all register their plugins this way, so what they
exercise is the real entry-point discovery, not a patched registry."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

import pytest

EntryPoints = Mapping[str, Mapping[str, str]]
"""``{group: {name: "module:attribute"}}``, e.g. ``{"winback.rules": {"nudge": "plugin:Nudge"}}``."""

NEW_RULES: EntryPoints = {
    "winback.rules": {"vip_tiers": "winback.rules.vip_tiers:VipTiers", "birthday": "winback.rules.birthday:Birthday"},
}
"""The vip_tiers and birthday rules, as the package declares them: for environments whose installed
metadata predates those entry points (an editable install made before they were added)."""


def write_dist_info(directory: Path, name: str, entry_points: EntryPoints) -> Path:
    """``directory/<name>-1.0.dist-info`` declaring ``entry_points`` (``directory`` is created if
    missing); returns the dist-info folder. Its distribution name is ``name`` with dashes."""
    dist = directory / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{key} = {target}\n" for key, target in points.items())
            for group, points in entry_points.items()
        )
    )
    return dist


def install_dist_info(monkeypatch: pytest.MonkeyPatch, directory: Path, name: str, entry_points: EntryPoints) -> Path:
    """:func:`write_dist_info`, then ``directory`` on ``sys.path`` for this test (undone after it)
    and the import caches invalidated. Registries cache what they found: callers clear them."""
    dist = write_dist_info(directory, name, entry_points)
    monkeypatch.syspath_prepend(str(directory))
    importlib.invalidate_caches()
    return dist
