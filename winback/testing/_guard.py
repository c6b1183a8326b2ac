"""Two promises every connector call must keep, checked around each call the kit makes.

Whatever a connector raises is a :class:`~winback.errors.WinbackError` (the CLI catches that one
type and prints its message), and no message — of an error or of a log record — contains a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from winback.errors import WinbackError

MIN_SECRET_LENGTH = 6
"""Shorter values are ignored, as :func:`winback.secrets.register_secret` ignores them: they match by
accident in ordinary text."""


def shown(secret: str) -> str:
    """A secret as a failure message may show it: enough to recognise, not enough to use."""
    return f"{secret[:3]}…({len(secret)} characters)"


def secrets_in(obj: Any, *, _depth: int = 0) -> set[str]:
    """Every :class:`~pydantic.SecretStr` value in ``obj``'s pydantic attributes (settings models).

    Looks at the connector's own attributes and the models nested in them, which is where a
    connector built from its ``settings_model`` keeps its tokens.
    """
    found: set[str] = set()
    if _depth > 3:
        return found
    if isinstance(obj, SecretStr):
        value = obj.get_secret_value()
        if len(value) >= MIN_SECRET_LENGTH:
            found.add(value)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            found |= secrets_in(getattr(obj, name, None), _depth=_depth + 1)
    elif _depth == 0 and hasattr(obj, "__dict__"):
        for value in vars(obj).values():
            if isinstance(value, BaseModel):
                found |= secrets_in(value, _depth=_depth + 1)
    return found


class Guard:
    """Wraps connector calls: a non-winback exception or a secret in an error message fails the test.

    ``secrets`` grows as the test builds connectors, so one guard covers every connector of a test.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: set[str] = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets |= {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}

    def leaked(self, text: str) -> list[str]:
        return sorted(s for s in self.secrets if s in text)

    @contextmanager
    def calling(self, what: str) -> Iterator[None]:
        """Run the body as the connector call ``what`` (e.g. ``"customers()"``)."""
        try:
            yield
        except WinbackError as exc:
            leaked = self.leaked(f"{exc}\n{exc!r}")
            if leaked:
                pytest.fail(
                    f"{what} raised {type(exc).__name__} whose message contains a secret "
                    f"({', '.join(map(shown, leaked))}): build messages from the store label and the "
                    f"platform's error text, never from settings or request headers",
                    pytrace=False,
                )
            raise
        except Exception as exc:
            text = str(exc)
            for secret in self.leaked(text):
                text = text.replace(secret, "***")
            pytest.fail(
                f"{what} raised {type(exc).__name__}: {text}\n"
                f"A connector raises only winback.errors (WinbackError subclasses: AuthenticationError, "
                f"PlatformUnavailableError, UnexpectedResponseError, ...) so the CLI can report it; a record it "
                f"cannot translate travels in Page.rejected instead.",
                pytrace=False,
            )


def log_texts(records: Iterable[logging.LogRecord]) -> Iterator[tuple[logging.LogRecord, str]]:
    """Every text a handler could write for each record: message, exception and stack."""
    formatter = logging.Formatter()
    for record in records:
        try:
            yield record, record.getMessage()
        except Exception:  # a broken format string: check its parts instead
            yield record, f"{record.msg} {record.args}"
        if record.exc_text:
            yield record, record.exc_text
        if record.exc_info and record.exc_info[0] is not None:
            yield record, formatter.formatException(record.exc_info)  # type: ignore[arg-type]
        if record.stack_info:
            yield record, record.stack_info
