"""Where the viewer is: the ISO 3166-1 alpha-2 territory of a request, from a trusted CDN's header or GeoIP."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import maxminddb
import pycountry

from vetrina.settings import Settings

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The 249 ISO 3166-1 alpha-2 codes, read from pycountry once: the check runs on every request.
TERRITORIES = frozenset(country.alpha_2 for country in pycountry.countries)
UNKNOWN_TERRITORY = "ZZ"
_FORWARDED_FOR = "x-forwarded-for"


def is_territory(code: str) -> bool:
    """Is `code` an ISO 3166-1 alpha-2 country code, exactly (upper case; not ZZ, XX or Cloudflare's T1)?"""
    return code in TERRITORIES


def _parse_ip(text: str) -> _IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; trust and GeoIP are decided on the IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _header(headers: Mapping[str, str], name: str) -> str:
    # Repeated header lines are one list in order (RFC 9110 5.3); Starlette's get() would give only the first.
    getlist = getattr(headers, "getlist", None)
    return ",".join(getlist(name)) if getlist is not None else headers.get(name, "")


def _iso_code(record: Any, key: str) -> str | None:
    part = record.get(key) if isinstance(record, dict) else None
    code = part.get("iso_code") if isinstance(part, dict) else None
    return code.upper() if isinstance(code, str) and is_territory(code.upper()) else None


class GeoLocator:
    """Works out a request's client address and territory; one per process, safe to share between threads."""

    def __init__(
        self,
        trusted_proxies: list[_IPNetwork],
        geo_header: str,
        default_territory: str,
        reader: maxminddb.Reader | None = None,
    ) -> None:
        self._trusted = trusted_proxies
        # Header names are looked up in lower case, as HTTP/2 and Starlette's Headers carry them.
        self._geo_header = geo_header.lower()
        self._default = default_territory
        self._reader = reader

    @classmethod
    def from_settings(cls, settings: Settings) -> GeoLocator:
        """Check the geo settings and open the GeoIP database once; bad settings fail here, at start-up."""
        networks = []
        for cidr in settings.trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                raise ValueError(f"VETRINA_TRUSTED_PROXIES: {cidr!r} is not an IP address or network (CIDR)") from None
        default = settings.default_territory
        if not (is_territory(default) or default == UNKNOWN_TERRITORY):
            raise ValueError(f"VETRINA_DEFAULT_TERRITORY: {default!r} is not an ISO 3166-1 alpha-2 code or ZZ")
        reader = None
        if settings.geoip_db is not None:
            try:
                reader = maxminddb.open_database(settings.geoip_db)
            except (OSError, maxminddb.InvalidDatabaseError) as exc:
                raise ValueError(
                    f"VETRINA_GEOIP_DB: {settings.geoip_db} is not a readable MaxMind .mmdb file ({exc})"
                ) from exc
        return cls(networks, settings.geo_header, default, reader)

    def close(self) -> None:
        """Close the GeoIP database (at process end)."""
        if self._reader is not None:
            self._reader.close()

    def _is_trusted(self, address: _IPAddress | None) -> bool:
        return address is not None and any(address in network for network in self._trusted)

    def is_trusted_proxy(self, peer: str) -> bool:
        """Is the direct peer one of VETRINA_TRUSTED_PROXIES, whose forwarding headers are believed?"""
        return self._is_trusted(_parse_ip(peer))

    def _client_ip(self, peer: _IPAddress | None, headers: Mapping[str, str]) -> _IPAddress | None:
        if not self._is_trusted(peer):
            return peer
        hop = peer
        # Each trusted proxy appended the address it was sent from: walk back from the right while we trust the hop.
        for entry in reversed(_header(headers, _FORWARDED_FOR).split(",")):
            previous = _parse_ip(entry)
            if previous is None:
                break
            hop = previous
            if not self._is_trusted(hop):
                break
        return hop

    def client_address(self, peer: str, headers: Mapping[str, str]) -> str:
        """The viewer's IP address: the first hop, from the direct peer leftwards through X-Forwarded-For, that
        is not a trusted proxy. A malformed entry ends the walk at the last trusted hop; an unparsable peer is
        returned as it is."""
        client = self._client_ip(_parse_ip(peer), headers)
        return peer if client is None else str(client)

    def territory(self, peer: str, headers: Mapping[str, str]) -> str:
        """The viewer's ISO 3166-1 alpha-2 territory: a trusted proxy's geo header, else the GeoIP database's
        country (or registered country) of the client address, else the configured default. Never raises."""
        peer_ip = _parse_ip(peer)
        if self._is_trusted(peer_ip):
            code = headers.get(self._geo_header, "").strip().upper()
            if is_territory(code):
                return code
        if self._reader is None:
            return self._default
        client = self._client_ip(peer_ip, headers)
        if client is None:
            return self._default
        try:
            record = self._reader.get(client)
        # An IPv6 viewer on an IPv4-only database, or a damaged record: no answer, not a failed request.
        except (ValueError, maxminddb.InvalidDatabaseError):
            return self._default
        return _iso_code(record, "country") or _iso_code(record, "registered_country") or self._default
