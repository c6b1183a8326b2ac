"""What rendering one email template may cost, and the checks that keep it there.

A client's ``templates_dir`` is merchant-editable text, and a cron run renders every client's
emails in one process: one template must not be able to stall that run or exhaust its memory.
Python cannot interrupt one huge operation once it has started (``"x" * 10**9``, ``10 ** 10**9``),
so each check here estimates the size of a result *before* it is computed and refuses it with
:class:`RenderLimitError`; long loops are stopped by a deadline checked at every step.
:mod:`winback.notify.sandbox` wires these checks into Jinja2's sandbox.

What stays out of reach in one process: a deadline cannot interrupt a single C-level step, and
memory is bounded by estimates, not by the operating system.
"""

from __future__ import annotations

import contextvars
import functools
import re
import string
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from jinja2.sandbox import SecurityError
from jinja2.utils import generate_lorem_ipsum

MAX_OUTPUT_CHARS = 2_000_000
"""Most characters one part (subject, HTML or text) of an email may render to, and most one
captured block may hold. A real email is well under 200 KB (Gmail clips bodies past 102 KB), so
2 MB only stops runaway loops, long before they cost the process real memory."""

MAX_VALUE_CHARS = 1_000_000
"""Largest value one operation in a template may build: characters of a string, or (roughly)
characters of a list or dict printed out. Stops ``"x" * 10**9`` before Python allocates it."""

MAX_INT_BITS = 16_384
"""Largest integer ``*`` and ``**`` may produce (about 4,900 digits, past the 4,300 Python
agrees to print). ``10 ** 10**9`` would otherwise compute for minutes in one uninterruptible step."""

RENDER_SECONDS = 5.0
"""Wall-clock budget for rendering one part, checked at every output chunk, loop iteration, call
and operator. The built-in templates render in milliseconds; a part still running after 5 s is
looping, and the rest of the run should not wait for it."""


class RenderLimitError(SecurityError):
    """A template asked for more than the limits above; the text completes "email template X ..."."""


_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "winback_template_deadline", default=None
)


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Within the block, :func:`check_time` raises once ``seconds`` have passed (per thread or task)."""
    token = _DEADLINE.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_time() -> None:
    """Raise :class:`RenderLimitError` when the current :func:`time_budget` is spent."""
    budget = _DEADLINE.get()
    if budget is not None and time.monotonic() > budget[0]:
        raise RenderLimitError(f"took longer than {budget[1]:g} s to render")


# --- size estimates --------------------------------------------------------------------------------


def size_of(value: Any, limit: int | None = None) -> int:
    """About how many characters ``value`` prints as, counting into lists, tuples, sets and dicts.

    Stops counting once past ``limit`` (default :data:`MAX_VALUE_CHARS`) and counts at least one
    per item, so its cost is bounded by ``limit`` whatever ``value`` is (a list of 100,000
    references to one long string included).
    """
    limit = MAX_VALUE_CHARS if limit is None else limit
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        total += 1
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, range):
            total += len(item) * 2
        elif isinstance(item, int):
            total += item.bit_length() // 3
        if total > limit:
            break
    return total


def refuse_size(size: int, what: str, limit: int | None = None) -> None:
    """Raise :class:`RenderLimitError` when ``size`` passes ``limit`` (default :data:`MAX_VALUE_CHARS`)."""
    limit = MAX_VALUE_CHARS if limit is None else limit
    if size > limit:
        raise RenderLimitError(f"would build a value of over {limit:,} characters with {what}")


def _check_int(bits: int, operator: str) -> None:
    if bits > MAX_INT_BITS:
        raise RenderLimitError(f"would compute a number of over {MAX_INT_BITS:,} bits with '{operator}'")


def _width(value: Any, what: str) -> int:
    count = len(value) if isinstance(value, str) else value if isinstance(value, int) else 0
    refuse_size(count, what)
    return count


_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")
_DIGITS = re.compile(r"\d+")


def _check_printf(fmt: str, args: Any) -> None:
    """Refuse ``fmt % args`` when its widths or its arguments would build too large a string."""
    fields = 0
    widths = 0
    for match in _PRINTF_SPEC.finditer(fmt):
        width, precision, kind = match.groups()
        if kind == "%":
            continue
        if "*" in (width, precision):
            raise RenderLimitError("uses a '*' width in a % format, which email templates do not support")
        fields += 1
        widths += _width(int(width or 0), "a % format width") + _width(int(precision or 0), "a % format precision")
    refuse_size(len(fmt) + widths + fields * size_of(args), "a % format")


def _check_str_format(fmt: str, args: Any, kwargs: Any) -> None:
    """Refuse ``fmt.format(...)`` when its widths or its arguments would build too large a string."""
    fields = 0
    widths = 0
    for _literal, field, spec, _conversion in string.Formatter().parse(fmt):
        if field is None:
            continue
        if spec and "{" in spec:
            raise RenderLimitError("uses a nested format spec, which email templates do not support")
        fields += 1
        widths += sum(_width(int(digits), "a format width") for digits in _DIGITS.findall(spec or ""))
    refuse_size(len(fmt) + widths + fields * (size_of(args) + size_of(kwargs)), "a format")


# --- operators -------------------------------------------------------------------------------------


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left <operator> right`` when its result would be too large to build."""
    check_time()
    if operator == "*":
        _check_product(left, right)
    elif operator == "**":
        _check_power(left, right)
    elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        refuse_size(size_of(left) + size_of(right), "'+'")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right)


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        _check_int(left.bit_length() + right.bit_length(), "*")
        return
    sequence, times = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(times, int) and times > 1:
        if isinstance(sequence, str):
            refuse_size(len(sequence) * times, "'*'")
        elif isinstance(sequence, (list, tuple)):
            refuse_size(size_of(sequence) * times, "'*'")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 1 and abs(base) > 1:
        _check_int(base.bit_length() * exponent, "**")


# --- methods, filters and globals ----------------------------------------------------------------


def check_method_call(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a call of a ``str`` method that would build too large a string; the (maybe materialised) args.

    ``method`` is the bound method itself (unwrapped from Jinja's ``format`` wrapper); calls of
    anything else pass.
    """
    check_time()
    text = getattr(method, "__self__", None)
    if not isinstance(text, str):
        return args
    name = getattr(method, "__name__", "")
    if name in {"format", "format_map"}:
        _check_str_format(text, args, kwargs)
        return args
    return _check_str_method(text, name, args, kwargs)


def _check_str_method(text: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a call of ``text.method`` that would build too large a string; the (maybe materialised) args."""
    what = f"'.{method}()'"
    if method in {"center", "ljust", "rjust", "zfill"} and args:
        _width(args[0], what)
    elif method == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        refuse_size(len(text) + text.count("\t") * _width(tab, what), what)
    elif method == "join" and args:
        items = list(args[0])
        refuse_size(size_of(items) + len(text) * len(items), what)
        return (items, *args[1:])
    elif method == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"))
    elif method == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        refuse_size(len(text) * max(longest, 1), what)
    return args


def _check_replace(text: Any, old: Any, new: Any, count: Any = None) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    refuse_size(len(text) + hits * len(new), "'replace'")


def _filter_center(value: Any, width: Any = 80, *_: Any, **__: Any) -> Any:
    _width(width, "'center'")
    refuse_size(size_of(value), "'center'")
    return value


def _filter_indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> Any:
    lines = value.count("\n") + 1 if isinstance(value, str) else 1
    refuse_size(size_of(value) + lines * _width(width, "'indent'"), "'indent'")
    return value


def _filter_join(value: Any, d: Any = "", *_: Any, **__: Any) -> Any:
    items = value if isinstance(value, (list, tuple)) else list(value)
    refuse_size(size_of(items) + len(str(d)) * len(items), "'join'")
    return items


def _filter_format(value: Any, *args: Any, **kwargs: Any) -> Any:
    _check_printf(str(value), kwargs or args)
    return value


def _filter_replace(value: Any, old: Any = "", new: Any = "", count: Any = None) -> Any:
    _check_replace(value, old, new, count)
    return value


def _filter_wordwrap(
    value: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None, **_: Any
) -> Any:
    text = str(value)
    lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
    refuse_size(len(text) + lines * len(str(wrapstring or "\n")), "'wordwrap'")
    return value


def _filter_tojson(value: Any, indent: Any = None) -> Any:
    step = _width(indent, "'tojson'") if indent else 0
    refuse_size(size_of(value) * (1 + step), "'tojson'")
    return value


def _filter_sum(value: Any, attribute: Any = None, start: Any = 0) -> Any:
    items = value if isinstance(value, (list, tuple)) else list(value)
    if isinstance(start, (str, list, tuple)):  # adding sequences copies the total at each step
        refuse_size(size_of(items) * max(len(items), 1), "'sum'")
    return items


def _filter_padding(value: Any, *args: Any, **kwargs: Any) -> Any:
    count = args[0] if args else kwargs.get("linecount", kwargs.get("slices", 0))
    items = value if isinstance(value, (list, tuple)) else list(value)
    refuse_size(size_of(items) + _width(count, "'batch' or 'slice'"), "'batch' or 'slice'")
    return items


def _filter_whole(value: Any, *_: Any, **__: Any) -> Any:
    refuse_size(size_of(value), "a filter")
    return value


_FILTER_CHECKS: dict[str, Callable[..., Any]] = {
    "batch": _filter_padding,
    "center": _filter_center,
    "format": _filter_format,
    "indent": _filter_indent,
    "join": _filter_join,
    "pprint": _filter_whole,
    "replace": _filter_replace,
    "slice": _filter_padding,
    "string": _filter_whole,
    "sum": _filter_sum,
    "tojson": _filter_tojson,
    "wordwrap": _filter_wordwrap,
}
"""Built-in filters whose output can be much larger than their input, and the check run first.
A check takes the filter's arguments (without Jinja's context argument) and returns the value,
materialised into a list when the filter would consume an iterator."""


def bound_filters(filters: MutableMapping[str, Callable[..., Any]]) -> None:
    """Wrap, in place, each filter in ``filters`` that can amplify its input with its check."""
    for name, check in _FILTER_CHECKS.items():
        if name in filters:
            filters[name] = _checked_filter(filters[name], check)


def _checked_filter(func: Callable[..., Any], check: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_time()
        head, (value, *rest) = args[:skip], args[skip:]
        return func(*head, check(value, *rest, **kwargs), *rest, **kwargs)

    return wrapper


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    """Jinja's ``lipsum`` global, refused beyond :data:`MAX_VALUE_CHARS` (it loops once per word)."""
    refuse_size(_width(n, "'lipsum'") * _width(max, "'lipsum'") * 12, "'lipsum'")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


__all__ = [
    "MAX_INT_BITS",
    "MAX_OUTPUT_CHARS",
    "MAX_VALUE_CHARS",
    "RENDER_SECONDS",
    "RenderLimitError",
    "bound_filters",
    "check_binop",
    "check_method_call",
    "check_time",
    "lipsum",
    "refuse_size",
    "size_of",
    "time_budget",
]
