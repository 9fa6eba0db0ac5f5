"""Checks for text people type: trimmed, present when required, within its limit."""

from __future__ import annotations

import re

from vetrina.errors import InvalidInput

# Control characters other than tab and newline: PostgreSQL refuses NUL, and none belong in typed text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(value: str, field: str, limit: int, required: bool) -> str:
    """`value` stripped; InvalidInput naming `field` when it is missing, too long or holds control characters."""
    if _CONTROL.search(value):
        raise InvalidInput(f"The {field} contains control characters.", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"The {field} is required.", field=field)
    if len(value) > limit:
        raise InvalidInput(f"The {field} is longer than {limit} characters.", field=field)
    return value
