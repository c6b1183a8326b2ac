"""Jinja2's immutable sandbox, wired to :mod:`winback.notify.limits` so a template's cost is bounded.

Jinja's own sandbox keeps a template away from Python's internals and caps ``range`` at 100,000
items, but lets ``{{ "x" * 1000000000 }}`` allocate gigabytes and a loop spin for hours.
:class:`BoundedSandbox` extends Jinja's documented seams rather than its internals' behaviour:

* ``call_binop`` (operators ``*``, ``**``, ``+``, ``%``) and ``call`` (method calls such as
  ``center`` or ``format``) ask :mod:`~winback.notify.limits` before computing a result;
* the filters and globals that can amplify their input (``join``, ``indent``, ``lipsum``, ...) are
  wrapped with the same checks, and ``finalize`` refuses to print a value above the output limit;
* its code generator (``code_generator_class``) sends every ``for`` loop through
  :meth:`BoundedSandbox.guarded_iter`, every captured block (``{% set %}...{% endset %}``, macros,
  ``{% filter %}``) into a size-bounded buffer and every ``~`` operand through a size check;
* :func:`render_bounded` streams the output with ``generate``, stops at the size limit, and runs
  the whole render within :data:`~winback.notify.limits.RENDER_SECONDS`, which every check above
  also enforces.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from winback.notify import limits


def render_bounded(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """``template`` rendered with ``context`` within the output and time limits of :mod:`~winback.notify.limits`.

    Raises :class:`~winback.notify.limits.RenderLimitError` when a limit is reached, and whatever
    the template raises.
    """
    with limits.time_budget(limits.RENDER_SECONDS):
        chunks = template.generate(context)
        try:
            parts: list[str] = []
            size = 0
            for chunk in chunks:
                size += len(chunk)
                if size > limits.MAX_OUTPUT_CHARS:
                    raise limits.RenderLimitError(f"printed more than {limits.MAX_OUTPUT_CHARS:,} characters")
                parts.append(chunk)
                limits.check_time()
            return "".join(parts)
        finally:
            chunks.close()


class _BoundedBuffer(list[str]):
    """A captured block's output; refuses to grow past :data:`~winback.notify.limits.MAX_OUTPUT_CHARS`."""

    size = 0

    def append(self, chunk: str) -> None:
        self._grow(len(chunk))
        super().append(chunk)

    def extend(self, chunks: Iterable[str]) -> None:
        chunks = tuple(chunks)
        self._grow(sum(len(chunk) for chunk in chunks))
        super().extend(chunks)

    def _grow(self, count: int) -> None:
        limits.check_time()
        self.size += count
        if self.size > limits.MAX_OUTPUT_CHARS:
            raise limits.RenderLimitError(f"built a block of more than {limits.MAX_OUTPUT_CHARS:,} characters")


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles loops, captured blocks and ``~`` so that :class:`BoundedSandbox` sees each step."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.bounded_buffer()")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node = copy.copy(node)
        node.iter = _environment_call("guarded_iter", node.iter)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        node = copy.copy(node)
        node.nodes = [_environment_call("sized", part) for part in node.nodes]
        super().visit_Concat(node, frame)


def _environment_call(method: str, argument: nodes.Expr) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(method), [argument], [], None, None, lineno=argument.lineno)


_JINJA_KWARGS = frozenset({"_loop_vars", "_block_vars"})
"""Keyword arguments Jinja adds to calls made inside loops and blocks (not the template's own)."""


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the size and time bounds of :mod:`winback.notify.limits`."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._finalize, **options)
        self.globals["lipsum"] = limits.lipsum
        limits.bound_filters(self.filters)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limits.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        method = getattr(__obj, "__wrapped__", __obj)  # Jinja wraps str.format in its own formatter
        given = {key: value for key, value in kwargs.items() if key not in _JINJA_KWARGS}
        args = limits.check_method_call(method, args, given)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, str):
            limits.refuse_size(len(result), "a call", limits.MAX_OUTPUT_CHARS)
        return result

    @staticmethod
    def guarded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
        """``iterable``, checking the deadline before each item (every ``for`` loop goes through here)."""
        for item in iterable:
            limits.check_time()
            yield item

    @staticmethod
    def sized(value: Any) -> Any:
        """``value``, refused when too large to join with ``~``."""
        limits.refuse_size(limits.size_of(value), "'~'")
        return value

    @staticmethod
    def bounded_buffer() -> list[str]:
        """The buffer a captured block writes into."""
        return _BoundedBuffer()

    @staticmethod
    def _finalize(value: Any) -> Any:
        limits.refuse_size(limits.size_of(value, limits.MAX_OUTPUT_CHARS), "'{{ }}'", limits.MAX_OUTPUT_CHARS)
        return value


__all__ = ["BoundedSandbox", "render_bounded"]
