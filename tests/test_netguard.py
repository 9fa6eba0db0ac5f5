"""The outgoing-URL check and the pinned requests: IPv6 addresses that carry a private IPv4 address are refused,
and a request connects only to the address that was checked, at every redirect hop, whatever a second lookup of
the name would answer (DNS rebinding). Names are answered by resolvers the tests pass in; servers are real, on
loopback (127.0.0.1 and 127.0.0.2 share a port, so only the address tells them apart)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import free_port
from vetrina import netguard
from vetrina.errors import InvalidInput

PUBLIC = "93.184.215.14"  # a public address; nothing there answers on the test's port


class Site:
    """A real HTTP server on one loopback address that records the requests it gets (path and Host header);
    /hop answers a redirect to the `next` query parameter, anything else a body naming this address."""

    def __init__(self, address: str, port: int) -> None:
        self.address = address
        self.requests: list[tuple[str, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                site.requests.append((self.path, self.headers.get("host", "")))
                if self.path.startswith("/hop?next="):
                    self.send_response(302)
                    self.send_header("Location", self.path.removeprefix("/hop?next="))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = f"from {site.address}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.server_names: list[str | None] = []  # what TLS clients sent as SNI, when serving HTTPS

    def serve_tls(self, certificate: Path, key: Path) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate, key)
        context.sni_callback = lambda _socket, name, _context: self.server_names.append(name)  # type: ignore[assignment,func-returns-value]
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def two_sites() -> Iterator[tuple[Site, Site, int]]:
    """Sites on 127.0.0.1 and 127.0.0.2, on the same port."""
    port = free_port()
    first = Site("127.0.0.1", port)
    first.start()
    try:
        second = Site("127.0.0.2", port)
        second.start()
        try:
            yield first, second, port
        finally:
            second.close()
    finally:
        first.close()


def certificate_for(name: str, folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, certificate for `name` signed by that CA, its key), made afresh as PEM files."""
    now = datetime.datetime.now(datetime.UTC)  # TLS checks validity against the real clock, not business time
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])

    def signed(subject: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    ca = (
        signed(ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        signed(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key.public_key())
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / f"{name}.pem", folder / f"{name}.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def rebinding(answers: dict[str, list[str]]) -> netguard.Resolver:
    """A resolver whose answer for a name changes with each lookup: the n-th lookup gets the n-th answer (the
    last one once they run out), as a hostile name server with a zero TTL would answer."""
    lookups: dict[str, int] = {}

    def resolve(host: str, port: int) -> list[netguard.Address]:
        if host not in answers:
            raise OSError(f"{host} is not known")
        count = lookups[host] = lookups.get(host, 0) + 1
        return [ipaddress.ip_address(answers[host][min(count, len(answers[host])) - 1])]

    return resolve


def fetch(url: str, allow_private: bool, resolver: netguard.Resolver) -> bytes:
    body = bytearray()
    netguard.fetch(url, allow_private, sink=body.extend, max_bytes=1000, timeout_s=5, resolver=resolver)
    return bytes(body)


# IPv6 addresses that carry a private IPv4 address


CARRYING_PRIVATE_IPV4 = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (the cloud metadata service)
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64: refused whole
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "2001:0:5db8:d70e::80ff:fffe",  # Teredo, client 127.0.0.1 (stored inverted)
    "2001:0:a00:1::a2b:4c5d",  # Teredo, server 10.0.0.1
    "::ffff:a9fe:a9fe",  # IPv4-mapped
    "::ffff:0:a9fe:a9fe",  # IPv4-translated
    "::a9fe:a9fe",  # IPv4-compatible
    "2a00:1450:4001:800:0:5efe:a9fe:a9fe",  # ISATAP interface of 169.254.169.254
    "2a00:1450:4001:800:200:5efe:a00:1",  # ISATAP interface (universal bit set) of 10.0.0.1
    "fec0::1",  # site-local
]


@pytest.mark.parametrize("address", CARRYING_PRIVATE_IPV4)
def test_an_ipv6_address_carrying_a_private_ipv4_address_is_refused(address):
    with pytest.raises(InvalidInput, match="private or local address"):
        netguard.check_outgoing_url(f"http://[{address}]/latest/meta-data", allow_private=False)
    resolver = rebinding({"tag.example": [address]})
    with pytest.raises(InvalidInput, match="private or local address"):
        netguard.check_outgoing_url("https://tag.example/vast.xml", allow_private=False, resolver=resolver)
    with pytest.raises(netguard.FetchError, match="The address is refused"):
        fetch(f"http://[{address}]/latest/meta-data", allow_private=False, resolver=netguard.resolve_with_system)


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC,
        "64:ff9b::5db8:d70e",
        "2002:5db8:d70e::1",
        "2a00:1450:4001:800::200e",
        "2a00:1450:4001:800:0:5efe:5db8:d70e",
    ],
)
def test_public_addresses_pass_the_check_in_any_form(address):
    host = f"[{address}]" if ":" in address else address
    assert netguard.check_outgoing_url(f"https://{host}/vast.xml", allow_private=False) == f"https://{host}/vast.xml"


def test_private_addresses_pass_when_the_operator_allows_them():
    for address in ["127.0.0.1", *CARRYING_PRIVATE_IPV4]:
        netguard.check_outgoing_url(f"http://[{address}]/" if ":" in address else f"http://{address}/", True)


# DNS rebinding: the request goes to the checked address


def test_a_name_that_rebinds_to_loopback_after_the_check_never_reaches_loopback():
    with two_sites() as (local, _, port):
        resolver = rebinding({"rebind.example": [PUBLIC, "127.0.0.1"]})
        with pytest.raises(netguard.FetchError) as refused:
            fetch(f"http://rebind.example:{port}/secret", allow_private=False, resolver=resolver)
        assert refused.value.reason.startswith(f"Could not connect to rebind.example: {PUBLIC} (Connect")
        # The check is told a public address; a second lookup (the system's, here) would say 127.0.0.1.
        with pytest.raises(netguard.FetchError) as refused:
            fetch(f"http://localhost:{port}/secret", allow_private=False, resolver=rebinding({"localhost": [PUBLIC]}))
        assert refused.value.reason.startswith(f"Could not connect to localhost: {PUBLIC} (Connect")
        assert local.requests == []


def test_the_request_goes_to_the_checked_address_by_name():
    with two_sites() as (checked, rebound, port):
        resolver = rebinding({"feed.example": ["127.0.0.1", "127.0.0.2"]})
        assert fetch(f"http://feed.example:{port}/feed.xml", True, resolver) == b"from 127.0.0.1"
        assert checked.requests == [("/feed.xml", f"feed.example:{port}")]
        assert rebound.requests == []

        resolver = rebinding({"hooks.example": ["127.0.0.2", "127.0.0.1"]})
        status = netguard.post(
            f"http://hooks.example:{port}/in", True, content=b"{}", headers={}, timeout_s=5, resolver=resolver
        )
        assert status == 200
        assert rebound.requests == [("/in", f"hooks.example:{port}")]
        assert checked.requests == [("/feed.xml", f"feed.example:{port}")]


def test_the_connection_never_looks_the_name_up_again():
    with two_sites() as (system_answer, checked, port):
        # The system's resolver answers localhost with 127.0.0.1 (or ::1): a second lookup would go there.
        assert fetch(f"http://localhost:{port}/x", True, rebinding({"localhost": ["127.0.0.2"]})) == b"from 127.0.0.2"
        assert system_answer.requests == []


def test_every_redirect_hop_is_checked_and_pinned_again():
    with two_sites() as (first, second, port):
        resolver = rebinding({"ads.example": ["127.0.0.1"], "cdn.example": ["127.0.0.2", "127.0.0.1"]})
        url = f"http://ads.example:{port}/hop?next=http://cdn.example:{port}/tag.xml"
        assert fetch(url, True, resolver) == b"from 127.0.0.2"
        assert first.requests == [(f"/hop?next=http://cdn.example:{port}/tag.xml", f"ads.example:{port}")]
        assert second.requests == [("/tag.xml", f"cdn.example:{port}")]

        for refused in ("file:///etc/passwd", f"http://user:pw@cdn.example:{port}/", "http://nowhere.example/"):
            with pytest.raises(netguard.FetchError, match="The address is refused"):
                fetch(f"http://ads.example:{port}/hop?next={refused}", True, resolver)
        assert len(second.requests) == 1


def test_https_to_the_checked_address_names_the_host_for_sni_and_the_certificate(tmp_path, monkeypatch):
    ca, certificate, key = certificate_for("shop.example", tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the HTTP client trusts the test's CA (and only it)
    port = free_port()
    site = Site("127.0.0.1", port)
    site.serve_tls(certificate, key)
    site.start()
    try:
        resolver = rebinding({"shop.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
        assert fetch(f"https://shop.example:{port}/feed.xml", True, resolver) == b"from 127.0.0.1"
        assert site.server_names == ["shop.example"]
        assert site.requests == [("/feed.xml", f"shop.example:{port}")]
        # The same address by another name: its certificate is not that name's, so nothing is asked.
        with pytest.raises(netguard.FetchError, match="Could not connect to other.example"):
            fetch(f"https://other.example:{port}/feed.xml", True, resolver)
        assert site.server_names == ["shop.example", "other.example"]
        assert len(site.requests) == 1
    finally:
        site.close()


def test_a_body_trickled_past_the_total_time_is_refused_while_each_wait_is_short():
    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/vtt")
            self.end_headers()
            for _byte in range(40):  # a byte every 50 ms: no single wait is long
                self.wfile.write(b"x")
                self.wfile.flush()
                threading.Event().wait(0.05)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/subtitles.vtt"
    try:
        received = bytearray()
        with pytest.raises(netguard.FetchError, match="took longer than 0.5 s"):
            netguard.fetch(url, True, sink=received.extend, max_bytes=1000, timeout_s=5, total_s=0.5)
        assert 0 < len(received) < 40
        whole = bytearray()  # without a total, the same server's body arrives whole
        netguard.fetch(url, True, sink=whole.extend, max_bytes=1000, timeout_s=5)
        assert len(whole) == 40
    finally:
        server.shutdown()
        server.server_close()
