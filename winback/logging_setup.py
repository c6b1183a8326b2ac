"""Logging for the command line: human lines on a terminal, JSON lines with ``--json-log``.

Every handler gets the secret-redacting filter, so a token can never reach a log line even if a
third-party library prints a header.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from winback.display import printable
from winback.secrets import RedactingFilter, redact


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra`` fields given by the caller are kept."""

    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and not key.startswith("_"):
                if isinstance(value, str):
                    payload[key] = redact(value)
                elif isinstance(value, (int, float, bool, type(None))):
                    payload[key] = value
                else:
                    payload[key] = redact(str(value))
        if record.exc_info:
            payload["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False)


class TerminalFormatter(logging.Formatter):
    """Human lines whose message part is :func:`~winback.display.printable` (a shop name with a
    line break or an escape sequence cannot forge or recolour a log line); tracebacks stay as they are."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return printable(super().formatMessage(record))


def configure_logging(*, json_log: bool = False, quiet: bool = False, verbose: bool = False) -> None:
    """Set up the root logger once for a CLI invocation."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    if json_log:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TerminalFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO with full URLs; ours are enough and already redacted.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
