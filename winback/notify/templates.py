"""Render an email template into its subject, HTML part and plain-text part.

Templates run in Jinja2's sandbox: a client's override directory is merchant-editable text, so a
template can read the context it is given and nothing else (no ``__class__`` walks, no calling
unsafe methods), and :mod:`winback.notify.limits` bounds the size of what it builds and the time
it takes, so one client's template cannot stall or exhaust a run that serves others. HTML is
autoescaped, so a customer called ``<script>`` stays text; the subject and the text part are not
escaped, and the subject is flattened to one line so it can never carry a header break.

An email template ``X`` is three files: ``X.subject.txt``, ``X.html`` and ``X.txt``. Each is looked
up first in the client's override directory, then among winback's defaults
(``winback/notify/templates/``), so a client may override one part and keep the others. Overrides
may ``{% extends "_layout.html" %}`` (or override ``_layout.html`` itself to rebrand every email).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2.sandbox import SecurityError

from winback.errors import NotifyError, TemplateLimitError
from winback.notify.limits import RenderLimitError
from winback.notify.sandbox import BoundedSandbox, render_bounded

PARTS = ("subject.txt", "html", "txt")
"""The file suffixes of one email template, in the order :class:`RenderedEmail` holds them."""

_PACKAGE_DIR = Path(__file__).with_name("templates")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")

_PREFIX_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
    "KRW": "₩",
    "ILS": "₪",
    "BRL": "R$",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "MXN": "MX$",
    "HKD": "HK$",
    "SGD": "S$",
}
_ZERO_DECIMALS = {"JPY", "KRW", "CLP", "ISK", "HUF", "VND", "TWD", "UGX", "XOF", "XAF", "PYG"}
_SAFE_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One rendered email: a one-line subject, the HTML part and the plain-text part."""

    subject: str
    html: str
    text: str


def render_email(
    template: str, context: Mapping[str, Any], *, overrides_dir: str | Path | None = None
) -> RenderedEmail:
    """Render ``template`` with ``context`` (the ``send_email`` step's payload).

    Raises :class:`NotifyError`, with a one-line message naming the part, whenever a part cannot
    be rendered: a part or an included template is missing (the message says where it was looked
    for), the context lacks a key, a template has a syntax error, breaks the sandbox's rules,
    exceeds its size or time limits, or fails in any other way.
    """
    if not _valid_name(template):
        raise NotifyError(f"invalid email template name {template!r}: use letters, digits, '_' and '-'")
    env = _environment(_overrides_key(overrides_dir))
    data = dict(context)
    subject, html, text = (_render(env, template, part, data, overrides_dir) for part in PARTS)
    return RenderedEmail(subject=one_line(subject), html=html, text=_BLANK_LINES.sub("\n\n", text.strip()) + "\n")


def available_templates(overrides_dir: str | Path | None = None) -> list[str]:
    """Names of the complete email templates (all three parts) found in the overrides and defaults."""
    files: set[str] = set()
    for directory in (Path(overrides_dir) if overrides_dir else None, _PACKAGE_DIR):
        if directory is not None and directory.is_dir():
            files.update(path.name for path in directory.iterdir() if path.is_file())
    names = {name.removesuffix(".subject.txt") for name in files if name.endswith(".subject.txt")}
    return sorted(n for n in names if _valid_name(n) and all(f"{n}.{part}" in files for part in PARTS))


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters folded into single spaces."""
    return _SPACES.sub(" ", _LINE_BREAKS.sub(" ", text)).strip()


# --- filters ---------------------------------------------------------------------------------------


def format_price(amount: Any, currency: str | None = None) -> str:
    """``"12.5", "EUR"`` → ``"€12.50"``; ``"12.5", "CHF"`` → ``"12.50 CHF"``; no currency → ``"12.50"``.

    The amount is read as a :class:`Decimal` (strings, ints and Decimals; floats through their
    text), rounded half-up to the currency's minor unit, with thousands separators.
    """
    try:
        value = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise NotifyError(f"price {amount!r} is not a number: pass a decimal string such as '12.50'") from None
    if not value.is_finite():
        raise NotifyError(f"price {amount!r} is not a finite number")
    code = (currency or "").strip().upper()
    places = 0 if code in _ZERO_DECIMALS else 2
    value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    digits = f"{abs(value):,.{places}f}"
    if not code:
        return f"{sign}{digits}"
    symbol = _PREFIX_SYMBOLS.get(code)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {code}"


def format_date(value: Any, style: str = "long") -> str:
    """An ISO date or datetime (string or object) → ``"12 March 2024"`` (``style="short"``: ``"12 Mar 2024"``)."""
    if isinstance(value, str):
        try:
            parsed: date = datetime.fromisoformat(value.strip())
        except ValueError:
            raise NotifyError(f"date {value!r} is not an ISO date such as '2024-03-12'") from None
    elif isinstance(value, (date, datetime)):
        parsed = value
    else:
        raise NotifyError(f"date {value!r} is not an ISO date string")
    month = "%b" if style == "short" else "%B"
    return f"{parsed.day} {parsed.strftime(month)} {parsed.year}"


def safe_url(value: Any) -> str:
    """``value`` if it is an http(s) or mailto URL, else ``"#"`` (no ``javascript:`` links)."""
    text = str(value or "").strip()
    if any(ord(c) < 32 or c.isspace() for c in text):
        return "#"
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return "#"
    return text if scheme in _SAFE_SCHEMES else "#"


def format_discount(discount: Mapping[str, Any], currency: str | None = None) -> str:
    """``{"kind": "percentage", "value": "15"}`` → ``"15% off"``; fixed amounts → ``"€10.00 off"``."""
    kind = discount.get("kind")
    value = discount.get("value")
    if kind == "percentage":
        try:
            number = Decimal(str(value)).normalize()
        except InvalidOperation:
            raise NotifyError(f"discount value {value!r} is not a number") from None
        return f"{number:f}% off"
    if kind == "fixed_amount":
        return f"{format_price(value, discount.get('currency') or currency)} off"
    raise NotifyError(f"discount kind {kind!r} is not 'percentage' or 'fixed_amount'")


def first_name(customer: Any) -> str:
    """The customer's first name to greet them by, or ``""`` when there is none worth using.

    Only ``first_name`` counts: a display name may be the email address (what a nameless guest is
    shown as), and "Hi chloe@example.com," reads as a machine writing. Blank names and names that
    look like an address give ``""`` so the template can say "Hi there,".
    """
    value = customer.get("first_name") if isinstance(customer, Mapping) else getattr(customer, "first_name", None)
    name = one_line(str(value)) if value is not None else ""
    return "" if "@" in name else name


_NUMBER_WORDS = ("no", "a", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_DAYS_PER_MONTH = Decimal("30.436875")


def since_text(days: Any) -> str:
    """How long ``days`` days is, the way a person says it, to follow "It's been ...".

    ``3`` → ``"3 days"``, ``17`` → ``"about two weeks"``, ``21`` → ``"about three weeks"``, ``40`` → ``"about a month"``,
    ``183`` → ``"about six months"``, ``330`` → ``"almost a year"``, ``365`` → ``"about a year"``,
    ``400`` → ``"over a year"``, ``548`` → ``"about a year and a half"``, ``705`` → ``"almost two
    years"``. Counts up to ten are words; the result is always a plural-correct phrase.
    """
    try:
        count = int(Decimal(str(days).strip()))
    except (InvalidOperation, ValueError):
        raise NotifyError(f"day count {days!r} is not a whole number of days") from None
    if count < 1:
        return "less than a day"
    if count == 1:
        return "a day"
    if count < 14:
        return f"{count} days"
    if count < 25:
        return f"about {_unit(round(count / 7), 'week')}"
    months = int((Decimal(count) / _DAYS_PER_MONTH).to_integral_value(rounding=ROUND_HALF_UP))
    if months < 11:
        return f"about {_unit(months, 'month')}"
    years, rest = divmod(months, 12)
    if rest == 0:
        return f"about {_unit(years, 'year')}"
    if rest <= 4:
        return f"over {_unit(years, 'year')}"
    if rest <= 7 and years >= 1:
        return f"about {_unit(years, 'year')} and a half"
    return f"almost {_unit(years + 1, 'year')}"


def _unit(count: int, unit: str) -> str:
    """``1, "year"`` → ``"a year"``; ``2, "year"`` → ``"two years"``; ``14, "year"`` → ``"14 years"``."""
    number = _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)
    return f"{number} {unit}" if count == 1 else f"{number} {unit}s"


# --- environment -----------------------------------------------------------------------------------


def _valid_name(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", name or ""))


def _overrides_key(overrides_dir: str | Path | None) -> str | None:
    if overrides_dir is None:
        return None
    path = Path(overrides_dir).expanduser()
    if not path.is_dir():
        raise NotifyError(
            f"the email templates directory {str(path)!r} does not exist: create it or fix templates_dir in [email]"
        )
    return str(path.resolve())


@functools.lru_cache(maxsize=32)
def _environment(overrides_dir: str | None) -> BoundedSandbox:
    loaders: list[jinja2.BaseLoader] = []
    if overrides_dir is not None:
        loaders.append(jinja2.FileSystemLoader(overrides_dir, encoding="utf-8"))
    loaders.append(jinja2.FileSystemLoader(str(_PACKAGE_DIR), encoding="utf-8"))
    env = BoundedSandbox(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=True,
    )
    env.filters["price"] = format_price
    env.filters["date"] = format_date
    env.filters["safe_url"] = safe_url
    env.filters["discount_text"] = format_discount
    env.filters["first_name"] = first_name
    env.filters["since_text"] = since_text
    return env


def _render(
    env: BoundedSandbox, template: str, part: str, context: dict[str, Any], overrides_dir: str | Path | None
) -> str:
    name = f"{template}.{part}"
    try:
        return render_bounded(env.get_template(name), context)
    except jinja2.TemplateNotFound as exc:
        raise NotifyError(one_line(_not_found(template, name, exc, overrides_dir))) from None
    except Exception as exc:  # any failure of one template is that email's error, never the run's
        kind = TemplateLimitError if isinstance(exc, _LIMITS) else NotifyError
        raise kind(one_line(f"email template {name!r} {_failure(exc, name)}")) from None


_LIMITS = (RenderLimitError, OverflowError, MemoryError, RecursionError)
"""Failures that would cost the same time or memory again for every customer."""


def _not_found(template: str, name: str, exc: jinja2.TemplateNotFound, overrides_dir: str | Path | None) -> str:
    """Which template is missing, which part needed it and every place it was looked for."""
    builtin = f"among winback's built-in templates ({_PACKAGE_DIR})"
    places = f"in {str(overrides_dir)!r} or {builtin}" if overrides_dir else builtin
    if exc.name == name:
        known = ", ".join(available_templates(overrides_dir)) or "none"
        hint = "" if overrides_dir else "; add your own under templates_dir in [email]"
        return f"email template {template!r}: {name} is not {places} (complete templates: {known}){hint}"
    names = [str(n) for n in getattr(exc, "templates", None) or [exc.name]]
    if len(names) == 1:
        message = f"email template {name!r} uses {names[0]!r}, which is not {places}"
    else:
        message = f"email template {name!r} uses one of {', '.join(map(repr, names))}; none is {places}"
    if any(n.startswith("/") or ".." in n.split("/") for n in names):
        message += "; names are relative to the templates directory"
    return message


def _syntax_error(exc: jinja2.TemplateSyntaxError, name: str) -> str:
    where = f" of {exc.name!r}" if exc.name and exc.name != name else ""
    return f"has a syntax error on line {exc.lineno}{where}: {exc.message}"


_FAILURES: tuple[tuple[type[Exception] | tuple[type[Exception], ...], Callable[[Any, str], str]], ...] = (
    (RenderLimitError, lambda exc, name: str(exc)),
    (jinja2.TemplateSyntaxError, _syntax_error),
    (SecurityError, lambda exc, name: f"tried something the sandbox forbids: {exc}"),
    (jinja2.UndefinedError, lambda exc, name: f"needs a value the context lacks: {exc.message}"),
    (jinja2.TemplateError, lambda exc, name: f"failed: {exc}"),
    (NotifyError, lambda exc, name: f"failed: {exc}"),
    (OverflowError, lambda exc, name: f"asked for too much: {exc}"),
    (MemoryError, lambda exc, name: "ran out of memory: it builds values far too large for an email"),
    (RecursionError, lambda exc, name: "recursed too deeply: a macro, include or loop calls itself without end"),
    (
        (TypeError, ValueError, AttributeError, KeyError),
        lambda exc, name: f"failed on its context: {type(exc).__name__}: {exc}",
    ),
    (Exception, lambda exc, name: f"failed: {type(exc).__name__}: {exc}"),
)
"""How each kind of failure reads after "email template X ...", most specific first."""


def _failure(exc: Exception, name: str) -> str:
    return next(describe(exc, name) for kind, describe in _FAILURES if isinstance(exc, kind))


__all__ = [
    "RenderedEmail",
    "available_templates",
    "first_name",
    "format_date",
    "format_discount",
    "format_price",
    "one_line",
    "render_email",
    "safe_url",
    "since_text",
]
