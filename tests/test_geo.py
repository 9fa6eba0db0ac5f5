"""Where the viewer is: trusted proxies, X-Forwarded-For, a real GeoIP database written here, and real HTTP."""

from __future__ import annotations

import string
from pathlib import Path

import httpx
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from starlette.datastructures import Headers

from tests.helpers import LiveServer
from vetrina.geo import GeoLocator, is_territory
from vetrina.runtime import build_context
from vetrina.settings import Settings

PROXIES = ["127.0.0.1/32", "::1/128", "10.0.0.0/8", "2001:db8:cafe::/48"]


def locator(tmp_path: Path, **changes: object) -> GeoLocator:
    return GeoLocator.from_settings(Settings(data_dir=tmp_path, trusted_proxies=PROXIES, **changes))


def headers(**fields: str) -> Headers:
    return Headers({name.replace("_", "-"): value for name, value in fields.items()})


@pytest.fixture
def country_db(tmp_path: Path) -> Path:
    """A GeoLite2-Country-shaped database: two countries, and a block known only by its registered country."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["81.2.69.0/24"]), {"country": {"iso_code": "GB"}})
    writer.insert_network(IPSet(["1.0.16.0/20"]), {"country": {"iso_code": "JP"}})
    writer.insert_network(IPSet(["2.125.160.0/24"]), {"registered_country": {"iso_code": "IT"}})
    writer.insert_network(IPSet(["2a02:ff0::/32"]), {"country": {"iso_code": "SE"}})
    path = tmp_path / "GeoLite2-Country.mmdb"
    writer.to_db_file(str(path))
    return path


def test_territories_are_the_249_iso_codes() -> None:
    letters = string.ascii_uppercase
    assert sum(is_territory(first + second) for first in letters for second in letters) == 249
    assert all(is_territory(code) for code in ["IT", "GB", "JP", "US", "AQ", "SE"])
    assert not any(is_territory(code) for code in ["ZZ", "XX", "T1", "EU", "UK", "it", "", "ITA"])


def test_geo_header_is_believed_from_a_trusted_peer(tmp_path: Path) -> None:
    geo = locator(tmp_path)
    assert geo.territory("127.0.0.1", headers(cf_ipcountry="IT")) == "IT"
    assert geo.territory("10.1.2.3", headers(cf_ipcountry=" fr ")) == "FR"
    assert geo.territory("::1", headers(cf_ipcountry="jp")) == "JP"
    # A dual-stack socket reports IPv4 peers in their IPv6 form.
    assert geo.territory("::ffff:127.0.0.1", headers(cf_ipcountry="DE")) == "DE"


def test_geo_header_is_ignored_from_an_untrusted_peer(tmp_path: Path) -> None:
    geo = locator(tmp_path)
    assert geo.territory("203.0.113.7", headers(cf_ipcountry="IT")) == "ZZ"
    assert geo.territory("2001:db8:beef::1", headers(cf_ipcountry="IT")) == "ZZ"
    # Claiming to come through a trusted proxy does not make the peer one.
    assert geo.territory("203.0.113.7", headers(cf_ipcountry="IT", x_forwarded_for="127.0.0.1")) == "ZZ"


@pytest.mark.parametrize("value", ["XX", "T1", "ZZ", "", "ITA", "I", "1T", "I T", "<script>", "EU"])
def test_geo_header_values_that_are_not_countries_fall_through(tmp_path: Path, value: str) -> None:
    assert locator(tmp_path).territory("127.0.0.1", headers(cf_ipcountry=value)) == "ZZ"
    assert locator(tmp_path, default_territory="US").territory("127.0.0.1", headers(cf_ipcountry=value)) == "US"


def test_geo_header_name_comes_from_the_settings(tmp_path: Path) -> None:
    geo = locator(tmp_path, geo_header="X-Country-Code")
    assert geo.territory("127.0.0.1", headers(x_country_code="PT")) == "PT"
    assert geo.territory("127.0.0.1", headers(cf_ipcountry="IT")) == "ZZ"


def test_client_address_walks_back_through_trusted_hops(tmp_path: Path) -> None:
    geo = locator(tmp_path)
    assert geo.client_address("198.51.100.9", headers()) == "198.51.100.9"
    assert geo.client_address("127.0.0.1", headers()) == "127.0.0.1"
    # Untrusted peer: its X-Forwarded-For is anyone's invention.
    assert geo.client_address("198.51.100.9", headers(x_forwarded_for="81.2.69.1")) == "198.51.100.9"
    # Several trusted hops, rightmost first.
    chain = "81.2.69.1, 10.0.0.2, 10.0.0.1"
    assert geo.client_address("127.0.0.1", headers(x_forwarded_for=chain)) == "81.2.69.1"
    # Whatever the client wrote to the left of the first untrusted hop is not believed.
    forged = "10.9.9.9, 1.0.16.1, 81.2.69.1, 10.0.0.1"
    assert geo.client_address("127.0.0.1", headers(x_forwarded_for=forged)) == "81.2.69.1"
    # Every hop trusted: the leftmost is as far as anyone can tell.
    assert geo.client_address("127.0.0.1", headers(x_forwarded_for="10.0.0.3,10.0.0.2")) == "10.0.0.3"


def test_repeated_forwarded_for_lines_are_one_list(tmp_path: Path) -> None:
    sent = Headers(raw=[(b"x-forwarded-for", b"10.9.9.9"), (b"x-forwarded-for", b"81.2.69.1")])
    assert locator(tmp_path).client_address("127.0.0.1", sent) == "81.2.69.1"


@pytest.mark.parametrize(
    ("chain", "client"),
    [
        ("81.2.69.1, garbage", "127.0.0.1"),
        ("81.2.69.1, , 10.0.0.1", "10.0.0.1"),
        ("81.2.69.1, 10.0.0.1:8080", "127.0.0.1"),
        ("81.2.69.1, unknown, 10.0.0.1", "10.0.0.1"),
        ("81.2.69.1, 999.1.1.1", "127.0.0.1"),
        ("81.2.69.1, [2001:db8::1]", "127.0.0.1"),
        ("81.2.69.1,", "127.0.0.1"),
    ],
)
def test_malformed_forwarded_for_entries_stop_the_walk(tmp_path: Path, chain: str, client: str) -> None:
    assert locator(tmp_path).client_address("127.0.0.1", headers(x_forwarded_for=chain)) == client


def test_ipv6_hops(tmp_path: Path) -> None:
    geo = locator(tmp_path)
    assert geo.client_address("::1", headers(x_forwarded_for="2a02:ff0::7, 2001:db8:cafe::2")) == "2a02:ff0::7"
    assert geo.client_address("2001:db8:cafe::9", headers(x_forwarded_for="81.2.69.1")) == "81.2.69.1"
    assert geo.client_address("2001:db8:beef::9", headers(x_forwarded_for="81.2.69.1")) == "2001:db8:beef::9"
    # A hop written as an IPv4-mapped IPv6 address is the IPv4 address.
    assert geo.client_address("::1", headers(x_forwarded_for="::ffff:81.2.69.1")) == "81.2.69.1"


@pytest.mark.parametrize("peer", ["", "testclient", "not an ip", "127.0.0.1/32", "::1%"])
def test_bad_peers_never_raise(tmp_path: Path, country_db: Path, peer: str) -> None:
    geo = locator(tmp_path, geoip_db=country_db)
    assert geo.client_address(peer, headers(x_forwarded_for="81.2.69.1")) == peer
    assert geo.territory(peer, headers(cf_ipcountry="IT", x_forwarded_for="81.2.69.1")) == "ZZ"


def test_geoip_database_gives_the_country(tmp_path: Path, country_db: Path) -> None:
    geo = locator(tmp_path, geoip_db=country_db)
    try:
        assert geo.territory("81.2.69.142", headers()) == "GB"
        assert geo.territory("1.0.31.255", headers()) == "JP"
        assert geo.territory("2a02:ff0::1", headers()) == "SE"
        # Only the registered country is known for this block.
        assert geo.territory("2.125.160.216", headers()) == "IT"
        # Not in the database, or not an address at all: the default.
        assert geo.territory("198.51.100.9", headers()) == "ZZ"
        assert geo.territory("2001:db8:beef::1", headers()) == "ZZ"
        # The database is asked about the client behind the trusted proxies, not the proxy.
        assert geo.territory("10.0.0.1", headers(x_forwarded_for="1.0.16.5, 10.0.0.2")) == "JP"
        # A trusted proxy's header wins over the database; an unknown header value falls through to it.
        assert geo.territory("127.0.0.1", headers(cf_ipcountry="FR", x_forwarded_for="81.2.69.1")) == "FR"
        assert geo.territory("127.0.0.1", headers(cf_ipcountry="XX", x_forwarded_for="81.2.69.1")) == "GB"
        assert geo.territory("127.0.0.1", headers(cf_ipcountry="T1", x_forwarded_for="1.0.16.5")) == "JP"
        # An untrusted peer's header is ignored, its own address is looked up.
        assert geo.territory("81.2.69.1", headers(cf_ipcountry="FR", x_forwarded_for="1.0.16.5")) == "GB"
    finally:
        geo.close()


def test_an_ipv4_only_database_does_not_fail_ipv6_viewers(tmp_path: Path) -> None:
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["81.2.69.0/24"]), {"country": {"iso_code": "GB"}})
    path = tmp_path / "v4.mmdb"
    writer.to_db_file(str(path))
    geo = locator(tmp_path, geoip_db=path)
    assert geo.territory("81.2.69.1", headers()) == "GB"
    assert geo.territory("2a02:ff0::1", headers()) == "ZZ"
    geo.close()


def test_records_without_a_country_code_give_the_default(tmp_path: Path) -> None:
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-ASN")
    writer.insert_network(IPSet(["81.2.69.0/24"]), {"autonomous_system_number": 20712})
    writer.insert_network(IPSet(["1.0.16.0/20"]), {"country": {"iso_code": "XX"}, "registered_country": "JP"})
    path = tmp_path / "asn.mmdb"
    writer.to_db_file(str(path))
    geo = locator(tmp_path, geoip_db=path, default_territory="US")
    assert geo.territory("81.2.69.1", headers()) == "US"
    assert geo.territory("1.0.16.1", headers()) == "US"
    geo.close()


@pytest.mark.parametrize("content", [None, b"", b"not a MaxMind database\n" * 100])
def test_a_bad_geoip_database_fails_at_start_up(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "GeoLite2-Country.mmdb"
    if content is not None:
        path.write_bytes(content)
    settings = Settings(data_dir=tmp_path / "data", geoip_db=path)
    with pytest.raises(ValueError, match=r"VETRINA_GEOIP_DB: .*GeoLite2-Country\.mmdb is not a readable MaxMind"):
        build_context(settings)
    assert not (tmp_path / "data").exists()


def test_bad_trusted_proxies_and_default_territory_fail_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="VETRINA_TRUSTED_PROXIES: '10.0.0.0/33'"):
        GeoLocator.from_settings(Settings(data_dir=tmp_path, trusted_proxies=["10.0.0.0/33"]))
    with pytest.raises(ValueError, match="VETRINA_DEFAULT_TERRITORY: 'uk'"):
        GeoLocator.from_settings(Settings(data_dir=tmp_path, default_territory="uk"))


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """conftest's settings, with the geo changes a test asks for (indirect parametrisation)."""
    return settings.model_copy(update=getattr(request, "param", {}))


@pytest.mark.parametrize(
    ("settings", "expected"),
    [({}, "IT"), ({"trusted_proxies": ["10.0.0.0/8"]}, "ZZ")],
    indirect=["settings"],
    ids=["loopback-trusted", "loopback-untrusted"],
)
def test_whereami_over_real_http(live_server: LiveServer, expected: str) -> None:
    # From an untrusted loopback peer, a forged X-Forwarded-For naming a trusted proxy must not make the
    # header believable (uvicorn's own proxy_headers would have rewritten the peer to 10.1.2.3).
    sent = {"CF-IPCountry": "IT", "X-Forwarded-For": "10.1.2.3"}
    response = httpx.get(f"{live_server.url}/api/v1/whereami", headers=sent, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"territory": expected}
    assert response.headers["cache-control"] == "private, no-store"
