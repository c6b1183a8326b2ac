"""Keep secrets out of logs, errors and exports.

Every component that handles a token registers it here; the logging filter installed by
:func:`install_log_redaction` replaces any registered value in every log record, whatever logger
produced it (ours, httpx's, tenacity's). Messages we build ourselves never include tokens in the
first place; this is the safety net for text we do not control.
"""

from __future__ import annotations

import logging
import threading

_MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so it is masked wherever it might be printed. Short values are ignored."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites the final message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not our problem to raise here
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info or record.exc_text:
            # Exception text is formatted by the handler after filters run; format it here so a
            # secret inside an exception message is masked too. Only a record that really holds a
            # secret is changed, so custom formatters keep their own traceback style otherwise.
            shown = record.exc_text or logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
            text = redact(shown)
            if text != shown:
                record.exc_text = text
                record.exc_info = None  # formatters that re-render exc_info would show the secret
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the filter to every handler of ``logger`` (root by default); idempotent."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
