"""Untrusted text (object keys, URLs, reasons a server gave) made safe to show on a terminal or write to a
log: control characters (an ``ESC[2K\\r`` that rewrites the line above, a newline that forges a log line)
and the bidirectional overrides that reorder what is shown are written as ``\\xNN`` or ``\\uNNNN``."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import logging

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object) -> str:
    """``text`` with every control character escaped (for display only: a backslash stays as it is)."""
    return _UNSAFE.sub(_escape, str(text))


_LINES = threading.Lock()


def write_line(text: str, stream: TextIO) -> None:
    """``text`` and its newline written to ``stream`` in one piece. Worker threads report at the same
    moment (sixteen objects failing on one missing bucket), and ``print`` writes a text and its end
    separately: their lines ran into each other."""
    with _LINES:
        stream.write(text + "\n")
        stream.flush()


class EscapingFilter:
    """Log records whose message (with its arguments) is escaped: one record, one line. A filter for
    ``Handler.addFilter`` (any object with this ``filter`` method), not a ``logging.Filter``: the CLI
    imports this module and not logging."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        escaped = shown(message)
        if escaped != message:
            record.msg, record.args = escaped, ()
        return True
