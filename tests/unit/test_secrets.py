"""redact() and RedactingFilter on a real logger and handler."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from winback.secrets import RedactingFilter, install_log_redaction, redact, register_secret

SECRET = "secret_test_ABCDEF123456"
LONGER = SECRET + "_EXTENDED"


@pytest.fixture(autouse=True)
def _registered() -> None:
    register_secret(SECRET)
    register_secret(LONGER)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger with one stream handler carrying the filter; yields the logger and its output."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("winback.test_secrets")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_redact_masks_registered_secrets() -> None:
    assert redact(f"token={SECRET}&x=1") == "token=***&x=1"
    assert redact(f"{SECRET} and {SECRET}") == "*** and ***"
    assert redact("nothing to hide") == "nothing to hide"


def test_redact_masks_the_longest_match_first() -> None:
    assert redact(f"t={LONGER}") == "t=***"


def test_short_and_empty_values_are_not_registered() -> None:
    register_secret("abc")
    register_secret("")
    register_secret(None)
    assert redact("abc is a common word") == "abc is a common word"


def test_filter_masks_a_plain_message(logged) -> None:
    logger, stream = logged
    logger.info(f"Authorization: Bearer {SECRET}")
    assert stream.getvalue() == "INFO Authorization: Bearer ***\n"


def test_filter_masks_percent_style_args(logged) -> None:
    logger, stream = logged
    logger.debug("GET %s with header %r (attempt %d)", f"/orders?token={SECRET}", {"X-Token": SECRET}, 2)
    output = stream.getvalue()
    assert SECRET not in output
    assert output == "DEBUG GET /orders?token=*** with header {'X-Token': '***'} (attempt 2)\n"


def test_filter_masks_secrets_in_non_string_args(logged) -> None:
    logger, stream = logged

    class Holder:
        def __str__(self) -> str:
            return f"Holder({SECRET})"

    logger.warning("value: %s", Holder())
    assert stream.getvalue() == "WARNING value: Holder(***)\n"


def test_filter_leaves_clean_messages_alone(logged) -> None:
    logger, stream = logged
    logger.info("synced %d orders for %s", 12, "acme")
    logger.info("%d%% done", 100)
    assert stream.getvalue() == "INFO synced 12 orders for acme\nINFO 100% done\n"


def test_filter_masks_secrets_in_tracebacks(logged) -> None:
    logger, stream = logged
    try:
        raise RuntimeError(f"server echoed {SECRET}")
    except RuntimeError:
        logger.exception("request failed")
    output = stream.getvalue()
    assert SECRET not in output
    assert "request failed" in output and "RuntimeError: server echoed ***" in output


def test_filter_does_not_break_on_bad_format_strings(logged) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("not a number",), None)
    assert RedactingFilter().filter(record) is True


def test_install_log_redaction_is_idempotent() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("winback.test_secrets.install")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        install_log_redaction(logger)
        install_log_redaction(logger)
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        logger.error("token %s", SECRET)
        assert stream.getvalue() == "token ***\n"
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
