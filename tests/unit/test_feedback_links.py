"""Signed 0-10 answer links of feedback requests (winback.notify.feedback_links) and their email."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.unit.test_rules_builtin_support import NOW
from winback.config import EmailSection
from winback.errors import NotifyError
from winback.notify import feedback_links as fl
from winback.notify import oneclick
from winback.rules.base import RuleContext, StoreFacts
from winback.rules.compose import compose_email
from winback.rules.feedback_request import FeedbackRequest
from winback.rules.preflight import email_problems

SECRET = b"k" * 64
FACTS = StoreFacts(store_key="ecwid:1", platform="ecwid", name="Shop One", currency="EUR",
                   url="https://shop.test", email="hello@shop.test", postal_address="1 Main St")


def _parts(url: str) -> tuple[str, str, str, str]:
    path = urlsplit(url).path.split("/")
    assert path[:2] == ["", "f"]
    return path[2], path[3], path[4], parse_qs(urlsplit(url).query).get("score", [""])[0]


def test_serve_link_verifies_and_names_its_order() -> None:
    url = fl.serve_link("https://wb.example.com/", SECRET, "acme", "gid://shopify/Order/1001", 9)
    client, encoded, token, score = _parts(url)
    assert client == "acme" and score == "9" and url.startswith("https://wb.example.com/f/acme/")
    assert fl.verify_serve(SECRET, client, encoded, token) == "gid://shopify/Order/1001"


@pytest.mark.parametrize("tamper", ["order", "client", "token", "secret"])
def test_tampered_serve_links_are_rejected(tamper: str) -> None:
    client, encoded, token, _ = _parts(fl.serve_link("https://wb.example.com", SECRET, "acme", "1001", 7))
    other_encoded = fl.encode_order("1002")
    if tamper == "order":
        assert fl.verify_serve(SECRET, client, other_encoded, token) is None
    elif tamper == "client":
        assert fl.verify_serve(SECRET, "other", encoded, token) is None
    elif tamper == "token":
        flipped = ("A" if token[0] != "A" else "B") + token[1:]
        assert fl.verify_serve(SECRET, client, encoded, flipped) is None
    else:
        assert fl.verify_serve(b"x" * 64, client, encoded, token) is None


def test_garbage_links_are_rejected_without_errors() -> None:
    assert fl.verify_serve(SECRET, "acme", "!!!", "x" * 32) is None
    assert fl.verify_serve(SECRET, "acme", fl.encode_order("1") + "=", "x" * 32) is None
    assert fl.verify_serve(SECRET, "acme", fl.encode_order("1"), "short") is None


def test_answer_url_token_is_what_the_merchant_endpoint_recomputes() -> None:
    links = fl.answer_links("ORD 7/1", answer_url="https://shop.example/nps?o={order}&s={score}&t={token}",
                            key="merchant-key", serve=None)["links"]
    assert [link["score"] for link in links] == list(range(11))
    query = parse_qs(urlsplit(links[10]["url"]).query)
    assert query["o"] == ["ORD 7/1"] and query["s"] == ["10"]
    assert fl.verify_answer_token("ORD 7/1", query["t"][0], "merchant-key")
    assert not fl.verify_answer_token("ORD 7/2", query["t"][0], "merchant-key")
    assert not fl.verify_answer_token("ORD 7/1", query["t"][0], "another-key")


def test_no_place_for_answers_is_a_clear_error() -> None:
    with pytest.raises(NotifyError, match="public_url"):
        fl.answer_links("1", answer_url=None, key=None, serve=None)
    with pytest.raises(NotifyError, match="unsubscribe_secret"):
        fl.answer_links("1", answer_url="https://x.example/{order}/{score}/{token}", key=None, serve=None)


@pytest.mark.parametrize("value, expected", [("0", 0), ("10", 10), ("7", 7), ("11", None), ("-1", None),
                                             ("", None), (None, None), ("07x", None), ("010", None)])
def test_scores_are_0_to_10(value: str | None, expected: int | None) -> None:
    assert fl.parse_score(value) == expected


def test_the_email_carries_eleven_signed_links_and_an_unsubscribe(tmp_path) -> None:
    settings = EmailSection(public_url="https://wb.example.com").with_oneclick("acme", tmp_path)
    rule = FeedbackRequest()
    context = RuleContext(store=None, facts=FACTS, now=NOW, capabilities=None)  # type: ignore[arg-type]
    (action,) = rule.sample_actions(context)
    message = compose_email(action, FACTS, {}, settings, NOW)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    secret = oneclick.install_secret(tmp_path)
    for score in range(11):
        assert fl.serve_link("https://wb.example.com", secret, "acme", "sample-order", score) in text
    assert html.count("/f/acme/") == 11 and "how was your order" in str(message["Subject"])
    assert message["List-Unsubscribe"] is not None and "Unsubscribe:" in text


def test_transactional_mode_has_no_unsubscribe(tmp_path) -> None:
    settings = EmailSection(public_url="https://wb.example.com").with_oneclick("acme", tmp_path)
    rule = FeedbackRequest({"marketing": False})
    context = RuleContext(store=None, facts=FACTS, now=NOW, capabilities=None)  # type: ignore[arg-type]
    (action,) = rule.sample_actions(context)
    assert action.marketing is False
    message = compose_email(action, FACTS, {}, settings, NOW)
    text = message.get_body(("plain",)).get_content()
    assert message["List-Unsubscribe"] is None and "you placed order #1001" in text


def test_preflight_names_the_missing_answer_place() -> None:
    problems, rendered = email_problems([FeedbackRequest()], FACTS, EmailSection(), NOW)
    assert rendered == 0 and len(problems) == 1 and "public_url" in problems[0] and "answer_url" in problems[0]
    ok, rendered = email_problems(
        [FeedbackRequest({"answer_url": "https://shop.example/nps/{order}/{score}/{token}"})], FACTS,
        EmailSection(unsubscribe_secret="s3cret", unsubscribe_mailto="u@shop.test"), NOW)
    assert ok == [] and rendered == 1
