"""Untrusted text on terminals, in logs and in reports: control characters never reach them raw."""

from __future__ import annotations

import io
import logging

from hypothesis import given
from hypothesis import strategies as st

from ferry.display import EscapingFilter, shown
from ferry.tasks.reports import escape_field, unescape_field

FORGED = "evil\x1b[2K\rSucceed count: 999\nINFO ferry.service: all good\u202e"


def test_shown_escapes_every_control_character():
    text = shown(FORGED)
    assert text == "evil\\x1b[2K\\x0dSucceed count: 999\\x0aINFO ferry.service: all good\\u202e"
    assert all(ch.isprintable() for ch in text)


@given(st.text())
def test_shown_leaves_no_control_character_and_changes_nothing_else(text):
    result = shown(text)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or 0x202A <= ord(ch) <= 0x202E for ch in result)
    if not any(
        ord(ch) < 0x20
        or 0x7F <= ord(ch) <= 0x9F
        or ch in "\u061c\u200e\u200f"
        or 0x202A <= ord(ch) <= 0x202E
        or 0x2066 <= ord(ch) <= 0x2069
        for ch in text
    ):
        assert result == text


@given(st.text())
def test_report_fields_are_one_line_and_reversible(text):
    field = escape_field(text)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in field)
    assert unescape_field(field) == text


def test_a_log_record_stays_one_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(EscapingFilter())
    logger = logging.getLogger("ferry.test.display")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("task %s: failed: %s: %s", "t1", FORGED, "reason\nforged")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().count("\n") == 1
    assert "\\x0aINFO ferry.service" in stream.getvalue()
