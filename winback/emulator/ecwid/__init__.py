"""Ecwid REST API v3 emulator: :class:`EcwidEmulator` and :func:`start_ecwid_emulator`."""

from winback.emulator.ecwid.app import ALL_SCOPES, DEFAULT_SCOPES, EcwidEmulator, start_ecwid_emulator
from winback.emulator.ecwid.state import EcwidState

__all__ = ["ALL_SCOPES", "DEFAULT_SCOPES", "EcwidEmulator", "EcwidState", "start_ecwid_emulator"]
