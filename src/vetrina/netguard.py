"""Outgoing requests to addresses users give us: never to this machine or a private network, unless allowed;
and `fetch`, the one way Vetrina downloads from such an address (third-party ad tags, partner feeds and media)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

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


MAX_REDIRECTS = 3


class FetchError(Exception):
    """A download that was refused or failed; `reason` says which, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fetch(
    url: str,
    allow_private: bool,
    *,
    sink: Callable[[bytes], object],  # what it returns is ignored (a file's write returns a count)
    max_bytes: int,
    timeout_s: float,
    accept: tuple[str, ...] = (),
    accept_header: str = "*/*",
) -> str:
    """Stream the body at `url` into `sink`; returns its content type. Every hop (redirects too) is checked
    with `check_outgoing_url`; `timeout_s` bounds each wait (connect, and between chunks); a body over
    `max_bytes`, a status other than 200, or a content type not starting with one of `accept` (when
    given) is a FetchError."""
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                url = check_outgoing_url(url, allow_private)
            except InvalidInput as exc:
                raise FetchError(f"The address is refused: {exc.detail}") from None
            try:
                with client.stream("GET", url, headers={"Accept": accept_header}) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = str(response.url.join(response.headers["location"]))
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"The server answered {response.status_code}.")
                    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if accept and not kind.startswith(accept):
                        raise FetchError(f"The content type is {kind or 'not given'}, not {' or '.join(accept)}.")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(f"The file is larger than {max_bytes} bytes.")
                    received = 0
                    for chunk in response.iter_bytes():
                        received += len(chunk)
                        if received > max_bytes:
                            raise FetchError(f"The file is larger than {max_bytes} bytes.")
                        sink(chunk)
                    return kind
            except httpx.HTTPError as exc:
                raise FetchError(f"The download failed ({exc.__class__.__name__}).") from None
    raise FetchError("The address redirects too often.")
