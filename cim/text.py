"""Text that is safe to store and to print, whatever bytes it came from.

Messages, paths and feature ids can carry what a file or a file system held: bytes that are not
UTF-8 (Python keeps them as lone surrogates, which Arrow, Delta and a UTF-8 console refuse) and
control characters (a terminal runs escape sequences). Every text bound for a table goes through
``table_text``: one place, so a hostile file cannot make the error report itself fail.
"""

from __future__ import annotations

import re

MAX_MESSAGE_CHARS = 4000  # a syntax error can quote a whole line of a 100 MB file

_UNSAFE = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def table_text(value: object, limit: int | None = None) -> str | None:
    """``value`` as valid, printable UTF-8 (bad bytes shown as ``\\xff``), cut to ``limit`` characters.

    None stays None. Tabs and line breaks are kept; other control characters are escaped.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:  # noqa: BLE001 - an object that cannot describe itself still gets a name
            value = f"<{type(value).__name__}>"
    text = _UNSAFE.sub(_escape, value)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}... [{len(text) - limit} more characters]"
    return text


def table_message(value: object) -> str | None:
    """A message for a table or a summary: safe text, at most ``MAX_MESSAGE_CHARS`` long."""
    return table_text(value, MAX_MESSAGE_CHARS)
