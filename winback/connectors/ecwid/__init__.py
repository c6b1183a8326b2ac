"""Ecwid REST API v3 connector (registered as the ``ecwid`` entry point)."""

from winback.connectors.ecwid.connector import EcwidConnector
from winback.connectors.ecwid.http_errors import map_error
from winback.connectors.ecwid.settings import EcwidSettings

__all__ = ["EcwidConnector", "EcwidSettings", "map_error"]
