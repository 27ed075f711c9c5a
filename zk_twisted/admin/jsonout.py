"""JsonOutputter: command responses as 3.8's Jackson ObjectMapper writes them (INDENT_OUTPUT).

Byte for byte what tools that diff or grep 3.8's output expect: ``"key" : value``, objects
indented two spaces per level and written ``{ }`` when empty, arrays inline as ``[ a, b ]``
(``[ ]`` when empty; an object inside starts on the bracket's line), doubles as
``Double.toString`` prints them, map keys as strings, no newline at the end.  Sets and
tuples are arrays; anything else is a programming error, not something to guess at.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..tools.javafmt import java_double

#: Jackson's escapes below U+0020 (others become \\u00XX, upper-case hex, as it writes them)
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_NEEDS_ESCAPE = frozenset(_ESCAPES) | frozenset(chr(c) for c in range(0x20))

CONTENT_TYPE = "application/json"


def quote(s: str) -> str:
    if not _NEEDS_ESCAPE.intersection(s):
        return f'"{s}"'
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(k: object) -> str:
    if isinstance(k, str):
        return quote(k)
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"map key {k!r}: only str and int keys are written")
    return quote(str(k))


def _write(v: object, depth: int, out: list[str]) -> None:
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(java_double(v))
    elif isinstance(v, str):
        out.append(quote(v))
    elif isinstance(v, Mapping):
        if not v:
            out.append("{ }")
            return
        inner = "\n" + "  " * (depth + 1)
        out.append("{")
        for i, (k, item) in enumerate(v.items()):
            out.append(("," if i else "") + inner + _key(k) + " : ")
            _write(item, depth + 1, out)
        out.append("\n" + "  " * depth + "}")
    elif isinstance(v, (list, tuple, set, frozenset)):
        if not v:
            out.append("[ ]")
            return
        out.append("[ ")
        for i, item in enumerate(v):
            if i:
                out.append(", ")
            _write(item, depth, out)  # arrays do not indent: objects in them nest from here
        out.append(" ]")
    else:
        raise TypeError(f"cannot write {type(v).__name__} {v!r} as JSON")


def to_json(value: object) -> str:
    """``mapper.writeValue`` with INDENT_OUTPUT: the text of one response."""
    out: list[str] = []
    _write(value, 0, out)
    return "".join(out)
