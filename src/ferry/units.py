"""Parsing and printing sizes.

Sizes follow the convention of obsutil and the AWS CLI: ``K``, ``KB`` and ``KiB`` all mean 1024 bytes, ``M``,
``MB`` and ``MiB`` 1024**2, and so on; a bare number is bytes. Printing always uses the binary units.
"""

from __future__ import annotations

import re

from ferry.errors import UsageError

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
MAX_SIZE = 1 << 63
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str, *, what: str = "size") -> int:
    """Parse ``"8MB"``, ``"1.5GiB"``, ``"102400"`` into bytes; raise UsageError naming ``what`` otherwise."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"invalid {what} {text!r}: expected a number of bytes or a size such as 8MB, 1GiB")
    number, unit = match.groups()
    if len(number) > 24:  # float() of 400 digits is infinity, and int() of that an OverflowError
        raise UsageError(f"invalid {what} {text[:40]!r}...: the number is too large")
    value = float(number) * _UNITS[unit.lower()]
    if value >= MAX_SIZE:
        raise UsageError(f"invalid {what} {text!r}: too large (the most is 8 EiB)")
    if value != int(value) and unit.lower() in ("", "b"):
        raise UsageError(f"invalid {what} {text!r}: a byte count must be whole")
    return int(value)


def format_size(n: float) -> str:
    """Human-readable binary size: ``format_size(1536) == "1.50 KiB"``."""
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.2f} {unit}"
    return f"{n / 1024:.2f} PiB"
