"""Outgoing requests to addresses users give us: never to this machine or a private network, unless allowed;
and `fetch` and `post`, the only ways Vetrina sends requests to such an address (third-party ad tags, partner
feeds and media, webhooks).

Each request connects to the very address that was checked (never to a second lookup of the name, which a
hostile name server could answer differently: DNS rebinding), and each redirect is checked and pinned again.
An IPv6 address that carries an IPv4 one (NAT64, 6to4, Teredo, mapped, compatible, ISATAP) is judged by
every IPv4 address it carries too."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from vetrina.errors import InvalidInput
from vetrina.i18n import _

MAX_URL_LENGTH = 2000

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> its addresses; an OSError, UnicodeError or ValueError when it has none.
Resolver = Callable[[str, int], list[Address]]


def resolve_with_system(host: str, port: int) -> list[Address]:
    """The addresses the operating system's resolver gives for `host`, in its order of preference."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


# Networks whose addresses end with an IPv4 address (RFC 6052 NAT64, RFC 4291 compatible, RFC 2765 translated).
_LAST_32_BITS_IPV4 = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96"))
# Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on a prefix length we cannot know.
_REFUSED_IPV6 = (ipaddress.ip_network("64:ff9b:1::/48"),)
_ISATAP_INTERFACE_ID = 0x00005EFE  # bits 64-95 of an ISATAP address (bit 70, universal/local, aside)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address that `address` carries, by any of the translation and tunnelling schemes."""
    found = [a for a in (address.ipv4_mapped, address.sixtofour, *(address.teredo or ())) if a is not None]
    last_32_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in network for network in _LAST_32_BITS_IPV4):
        found.append(last_32_bits)
    if (int(address) >> 32) & 0xFDFFFFFF == _ISATAP_INTERFACE_ID:
        found.append(last_32_bits)
    return found


def is_public(address: Address) -> bool:
    """Whether `address` is a public unicast address, and so is every IPv4 address it carries."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local or any(address in network for network in _REFUSED_IPV6):
            return False
        return all(is_public(embedded) for embedded in _embedded_ipv4(address))
    return True


def _checked_addresses(url: str, allow_private: bool, resolver: Resolver) -> list[Address]:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(_("URLs are at most {max} characters.", max=MAX_URL_LENGTH), field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parses the port: a bad one raises here, not later)
    except ValueError:
        raise InvalidInput(_("That is not a valid URL."), field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(_("Give an http:// or https:// URL."), field="url")
    if parts.username or parts.password:
        raise InvalidInput(_("URLs with a user name or password are not accepted."), field="url")
    try:
        addresses = resolver(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError, ValueError):
        addresses = []
    if not addresses:
        raise InvalidInput(_("The host {host} cannot be resolved.", host=parts.hostname), field="url")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise InvalidInput(
                    _(
                        "{host} resolves to a private or local address ({address}); it is not allowed.",
                        host=parts.hostname,
                        address=str(address),
                    ),
                    field="url",
                )
    return addresses


def check_outgoing_url(url: str, allow_private: bool, *, resolver: Resolver = resolve_with_system) -> str:
    """The URL if it is http(s) to a public address; InvalidInput otherwise. Checked again before each request."""
    _checked_addresses(url, allow_private, resolver)
    return url


MAX_REDIRECTS = 3


class FetchError(Exception):
    """A request that was refused or failed; `reason` says which, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextmanager
def _pinned(
    method: str,
    url: str,
    allow_private: bool,
    resolver: Resolver,
    timeout_s: float,
    headers: dict[str, str],
    content: bytes | None = None,
) -> Iterator[httpx.Response]:
    """The streamed response to one request for `url`, sent to an address its check approved (the first of
    them that takes the connection); FetchError when it is refused or fails."""
    try:
        addresses = _checked_addresses(url, allow_private, resolver)
    except InvalidInput as exc:
        raise FetchError(_("The address is refused: {reason}", reason=exc.detail)) from None
    try:
        named = httpx.URL(url)
        host_header, server_name = named.netloc.decode("ascii"), named.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError):
        raise FetchError(_("The address is refused: that is not a valid URL.")) from None
    failures = []
    for address in addresses:
        # The URL names the checked address, so no second lookup; Host and TLS SNI (hence the certificate check)
        # name the host. One client per connection: a pooled one would carry another name to the same address.
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            try:
                prepared = client.build_request(
                    method,
                    named.copy_with(host=str(address)),
                    headers=headers,
                    content=content,
                    extensions={"sni_hostname": server_name},
                )
                prepared.headers["Host"] = host_header
                response = client.send(prepared, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failures.append(f"{address} ({exc.__class__.__name__})")
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(_("The request failed ({error}).", error=exc.__class__.__name__)) from None
            try:
                yield response
            except httpx.HTTPError as exc:
                raise FetchError(_("The request failed ({error}).", error=exc.__class__.__name__)) from None
            finally:
                response.close()
            return
    raise FetchError(_("Could not connect to {host}: {failures}.", host=named.host, failures=", ".join(failures)))


def fetch(
    url: str,
    allow_private: bool,
    *,
    sink: Callable[[bytes], object],  # what it returns is ignored (a file's write returns a count)
    max_bytes: int,
    timeout_s: float,
    accept: tuple[str, ...] = (),
    accept_header: str = "*/*",
    resolver: Resolver = resolve_with_system,
    total_s: float | None = None,
) -> str:
    """Stream the body at `url` into `sink`; returns its content type. Every hop (redirects too) is checked
    and pinned to the address checked; `timeout_s` bounds each wait (connect, and between chunks) and `total_s`
    (when given) the whole body, so a server trickling a byte a minute cannot hold a worker; a body over
    `max_bytes`, a status other than 200, or a content type not starting with one of `accept` (when
    given) is a FetchError."""
    deadline = time.monotonic() + total_s if total_s is not None else None
    for _hop in range(MAX_REDIRECTS + 1):
        with _pinned("GET", url, allow_private, resolver, timeout_s, {"Accept": accept_header}) as response:
            if response.is_redirect and "location" in response.headers:
                try:
                    url = str(httpx.URL(url).join(response.headers["location"]))
                except httpx.InvalidURL:
                    raise FetchError(_("The server redirects to an invalid address.")) from None
                continue
            if response.status_code != 200:
                raise FetchError(_("The server answered {status}.", status=response.status_code))
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if accept and not kind.startswith(accept):
                raise FetchError(
                    _("The content type is {kind}, not {accepted}.", kind=kind, accepted=_either(accept))
                    if kind
                    else _("The content type is not given, not {accepted}.", accepted=_either(accept))
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(_("The file is larger than {max_bytes} bytes.", max_bytes=max_bytes))
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise FetchError(_("The file is larger than {max_bytes} bytes.", max_bytes=max_bytes))
                if deadline is not None and time.monotonic() > deadline:
                    raise FetchError(_("The server took longer than {seconds} s to send it.", seconds=total_s))
                sink(chunk)
            return kind
    raise FetchError(_("The address redirects too often."))


def _either(choices: tuple[str, ...]) -> str:
    """ "a or b or c", in the reader's language."""
    either = choices[0]
    for choice in choices[1:]:
        either = _("{first} or {second}", first=either, second=choice)
    return either


def post(
    url: str,
    allow_private: bool,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout_s: float,
    resolver: Resolver = resolve_with_system,
) -> int:
    """POST `content` to `url` (checked and pinned as `fetch` is; a redirect is not followed); the status code."""
    with _pinned("POST", url, allow_private, resolver, timeout_s, headers, content) as response:
        return response.status_code
