"""Checks for text people type: trimmed, present when required, within its limit."""

from __future__ import annotations

import re

from vetrina.errors import InvalidInput
from vetrina.i18n import _

# Control characters other than tab and newline: PostgreSQL refuses NUL, and none belong in typed text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(value: str, field: str, limit: int, required: bool, *, label: str | None = None) -> str:
    """`value` stripped; InvalidInput naming `field` when it is missing, too long or holds control characters.

    `label` is what the message calls the field, translated when shown (`_("title")`); the machine name `field`
    (which the problem's `field` always carries) when not given."""
    name = field if label is None else label
    if _CONTROL.search(value):
        raise InvalidInput(_("The {label} contains control characters.", label=name), field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(_("The {label} is required.", label=name), field=field)
    if len(value) > limit:
        raise InvalidInput(_("The {label} is longer than {limit} characters.", label=name, limit=limit), field=field)
    return value


_LOOPBACK_HOSTS = re.compile(r"^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])$")
_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)$")


def web_origin(value: str, field: str) -> str:
    """`value` as a web origin, `scheme://host[:port]` in lower case with a default port dropped, as browsers send it.

    HTTPS only, except for loopback hosts (development): a page that frames a player that sells must itself be
    safe from tampering. InvalidInput naming `field` for anything else (paths, wildcards, user names)."""
    text = clean_text(value, field, 300, required=True).lower().rstrip("/")
    scheme, sep, rest = text.partition("://")
    host, _colon, port = rest.rpartition(":") if re.search(r":[0-9]+$", rest) else (rest, "", "")
    if not sep or not _HOST.match(host) or (port and not 0 < int(port) < 65536):
        raise InvalidInput(_("{origin} is not an origin like https://shop.example.", origin=repr(value)), field=field)
    if scheme != "https" and not (scheme == "http" and _LOOPBACK_HOSTS.match(host)):
        raise InvalidInput(_("{origin} is not an https:// origin.", origin=repr(value)), field=field)
    default_port = {"https": "443", "http": "80"}[scheme]
    port = str(int(port)) if port else ""
    return f"{scheme}://{host}" + (f":{port}" if port and port != default_port else "")
