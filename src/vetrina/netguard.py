"""Outgoing requests to addresses users give us: never to this machine or a private network, unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from vetrina.errors import InvalidInput

MAX_URL_LENGTH = 2000


def check_outgoing_url(url: str, allow_private: bool) -> str:
    """The URL if it is http(s) to a public address; InvalidInput otherwise. Checked again before each request."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"URLs are at most {MAX_URL_LENGTH} characters.", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parses the port: a bad one raises here, not later)
    except ValueError:
        raise InvalidInput("That is not a valid URL.", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("Give an http:// or https:// URL.", field="url")
    if parts.username or parts.password:
        raise InvalidInput("URLs with a user name or password are not accepted.", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        raise InvalidInput(f"The host {parts.hostname} cannot be resolved.", field="url") from None
    if not allow_private:
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global or address.is_multicast:
                raise InvalidInput(
                    f"{parts.hostname} resolves to a private or local address ({address}); it is not allowed.",
                    field="url",
                )
    return url
