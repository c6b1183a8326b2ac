"""winback.notify templates within bounds: a client's override cannot build huge values, print
without end or loop for ever, and every way a template fails is one NotifyError line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from winback.errors import NotifyError
from winback.notify import render_email


def override(directory: Path, subject: str, *, html: str = "x", text: str = "x") -> Path:
    """A complete ``t`` template in ``directory`` whose parts are the given sources."""
    (directory / "t.subject.txt").write_text(subject, encoding="utf-8")
    (directory / "t.html").write_text(html, encoding="utf-8")
    (directory / "t.txt").write_text(text, encoding="utf-8")
    return directory


def failure(directory: Path) -> str:
    """The message of the NotifyError rendering ``t`` raises; asserts it is one line."""
    with pytest.raises(NotifyError) as info:
        render_email("t", {"customer": {"first_name": "Anna"}}, overrides_dir=directory)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    return message


@pytest.mark.parametrize(
    ("source", "culprit"),
    [
        pytest.param('{{ "x" * 1000000000 }}', "'*'", id="billion-char-string"),
        pytest.param('{{ ("x" * 50000000)|length }}', "'*'", id="string-repetition"),
        pytest.param("{{ ([0] * 50000000)|length }}", "'*'", id="list-repetition"),
        pytest.param("{{ (7 ** 1000000) % 10 }}", "'**'", id="huge-power"),
        pytest.param('{{ "x".center(50000000)|length }}', "'.center()'", id="str-method-width"),
        pytest.param('{{ "{:>50000000}".format(1)|length }}', "format width", id="str-format-width"),
        pytest.param('{{ ("%050000000d" % 1)|length }}', "% format width", id="printf-width"),
        pytest.param('{{ range(100000)|join("x" * 1000)|length }}', "'join'", id="join-separator"),
        pytest.param(
            '{% set ns = namespace(s="x" * 1000) %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}',
            "'~'",
            id="doubling-concat",
        ),
    ],
)
def test_a_huge_value_is_refused_before_it_is_built(tmp_path: Path, source: str, culprit: str) -> None:
    message = failure(override(tmp_path, source))

    assert message.startswith("email template 't.subject.txt' would ")
    assert culprit in message


def test_a_range_past_the_sandbox_cap_is_a_notify_error_not_an_overflow(tmp_path: Path) -> None:
    message = failure(override(tmp_path, "{% for i in range(100000000) %}{{ i }}{% endfor %}"))

    assert message.startswith("email template 't.subject.txt' asked for too much:") and "100000" in message


@pytest.mark.parametrize(
    "source",
    [
        pytest.param('{% for i in range(100000) %}{{ "y" * 1000 }}{% endfor %}', id="printed"),
        pytest.param(
            '{% set big %}{% for i in range(100000) %}{{ "y" * 1000 }}{% endfor %}{% endset %}{{ big|length }}',
            id="captured-block",
        ),
    ],
)
def test_output_stops_at_the_size_limit(tmp_path: Path, source: str) -> None:
    message = failure(override(tmp_path, "ok", html=source))

    assert message.startswith("email template 't.html' ") and "2,000,000 characters" in message


def test_a_template_that_keeps_looping_stops_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from winback.notify import limits

    monkeypatch.setattr(limits, "RENDER_SECONDS", 0.2)
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"

    message = failure(override(tmp_path, "ok", text=loops))

    assert message == "email template 't.txt' took longer than 0.2 s to render"
    other = tmp_path / "other"
    other.mkdir()
    assert render_email("t", {}, overrides_dir=override(other, "fine")).subject == "fine"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 1 / 0 }}", "failed: ZeroDivisionError: division by zero"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursed too deeply"),
        ("{{ 10 ** 4000 * 10 ** 400 }}", "failed on its context: ValueError: Exceeds the limit"),
        ('{% include "part.txt" %}', "has a syntax error on line 2 of 'part.txt': unexpected '}'"),
    ],
)
def test_every_failure_is_one_line_naming_the_template(tmp_path: Path, source: str, expected: str) -> None:
    (tmp_path / "part.txt").write_text("fine\n{{ } }}", encoding="utf-8")

    message = failure(override(tmp_path, source))

    assert message.startswith("email template 't.subject.txt' ") and expected in message


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ('{% include "/etc/passwd" %}', "'/etc/passwd'"),
        ('{% include "footer.txt" %}', "'footer.txt'"),
        ('{% extends "base.html" %}', "'base.html'"),
        ('{% import "macros.txt" as m %}', "'macros.txt'"),
        ('{% include ["a.txt", "b.txt"] %}', "one of 'a.txt', 'b.txt'"),
    ],
)
def test_a_missing_include_names_the_template_the_file_and_where_it_looked(
    tmp_path: Path, source: str, missing: str
) -> None:
    message = failure(override(tmp_path, "ok", html=source))

    assert message.startswith(f"email template 't.html' uses {missing}")
    assert repr(str(tmp_path)) in message and "winback's built-in templates" in message
    assert "winback/notify/templates" in message


def test_an_absolute_include_says_names_are_relative(tmp_path: Path) -> None:
    message = failure(override(tmp_path, '{% include "/etc/passwd" %}'))

    assert message.endswith("names are relative to the templates directory")


def test_ordinary_templates_still_render_within_the_bounds(tmp_path: Path) -> None:
    source = (
        '{% for p in range(3) %}{{ loop.index }}/{{ loop.length }} {% endfor %}'
        '{{ "a" ~ 1 }} {{ "%05.1f" % 3.14159 }} {{ "{}!".format(customer.first_name) }} {{ [1, 2]|join(",") }} '
        '{{ "-" * 3 }} {{ 2 ** 10 }} {% set c %}{{ customer.first_name|upper }}{% endset %}{{ c }} '
        '{% for i in [[1, [2]], [3]] recursive %}{% if i is iterable %}({{ loop(i) }}){% else %}{{ i }}{% endif %}{% endfor %}'
    )
    email = render_email("t", {"customer": {"first_name": "Anna"}}, overrides_dir=override(tmp_path, source))

    assert email.subject == "1/3 2/3 3/3 a1 003.1 Anna! 1,2 --- 1024 ANNA (1(2))(3)"
