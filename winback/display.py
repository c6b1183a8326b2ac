"""Text from stores and servers made safe to print on a terminal.

Shop names, customer names, product titles and server messages are other people's text. A CR or
LF in a shop name broke ``winback check``'s checklist line; an escape sequence could recolour or
rewrite the operator's terminal, and a bidirectional override could make a line read differently
from what it says. Everything the CLI and the human log format print passes through
:func:`printable`; JSON output is escaped by the JSON encoder instead.
"""

from __future__ import annotations

import re
import unicodedata

_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u0085\u2028\u2029]+")
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` on one line: breaks and tabs become one space, other control and bidi-override
    characters are shown escaped (``\\x1b``), so nothing printed can move the cursor or colour."""
    flat = _LINE_BREAKS.sub(" ", str(text))
    if flat.isprintable():
        return flat
    return "".join(
        _escape(char)
        if char in _BIDI_CONTROLS or (unicodedata.category(char) == "Cc")
        else char
        for char in flat
    )
