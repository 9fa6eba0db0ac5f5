"""Checks for text people type: trimmed, present when required, within its limit."""

from __future__ import annotations

from vetrina.errors import InvalidInput


def clean_text(value: str, field: str, limit: int, required: bool) -> str:
    """`value` stripped; InvalidInput naming `field` when it is missing or too long."""
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"The {field} is required.", field=field)
    if len(value) > limit:
        raise InvalidInput(f"The {field} is longer than {limit} characters.", field=field)
    return value
