"""Uploads are refused from their headers, before the body is read (over a raw socket to a real server), and
per-user quotas (uploads and bytes per day, videos processing at once) hold."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select, update

from tests.helpers import ready_video_row
from tests.web.helpers import app_with, assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.catalog.models import ProductImage
from vetrina.media.models import Video, VideoStatus

GIB = 1024**3


def raw_post(url: str, path: str, headers: dict[str, str], declared: int = GIB) -> tuple[int, dict[str, str], bytes]:
    """POST `path` declaring a body of `declared` bytes, send only its first bytes, and read the answer to the
    end: the server must answer and close the connection without the rest (else the read times out)."""
    address = urlsplit(url)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {address.netloc}",
        "Content-Type: multipart/form-data; boundary=x",
        f"Content-Length: {declared}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection((address.hostname, address.port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'--x\r\nContent-Disposition: form-data; name="t')
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    parsed = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), parsed, body


def test_uploads_are_refused_from_their_headers_before_the_body_is_read(live_server, make_account):
    merchant, other, viewer = make_account(Role.merchant), make_account(Role.merchant), make_account(Role.viewer)
    created = httpx.post(
        live_server.url + "/api/v1/products",
        headers=merchant.auth,
        json={"title": "Lamp", "price": {"amount": 4500, "currency": "EUR"}},
    )
    product = created.json()["id"]
    refusals = [
        ("/api/v1/videos", {}, 401),
        ("/api/v1/videos", {"Authorization": "Bearer not-a-token"}, 401),
        ("/api/v1/videos", viewer.auth, 403),
        (f"/api/v1/products/{product}/images", other.auth, 403),
        ("/api/v1/products/424242/images", merchant.auth, 404),
        ("/api/v1/products/99999999999/images", merchant.auth, 404),
        ("/api/v1/studio/images", viewer.auth, 403),
        ("/api/v1/studio/music", {}, 401),
        ("/api/v1/channels/someone-else/banner", merchant.auth, 404),
        ("/merchant/channel/banner", viewer.auth, 403),
    ]
    for path, headers, status in refusals:
        # Within each route's size limit: a 1 GiB video, a 10 MiB image or track.
        declared = GIB if "video" in path else 10 * 1024**2
        answered, answer_headers, body = raw_post(live_server.url, path, headers, declared)
        assert answered == status, (path, body)
        assert answer_headers["connection"] == "close"
        assert answer_headers["content-type"] == "application/problem+json"
        assert json.loads(body)["status"] == status
    # The upload page sends a signed-out visitor to sign in, as its form does.
    answered, answer_headers, _body = raw_post(live_server.url, "/upload", {"Accept": "text/html"})
    assert (answered, answer_headers["location"]) == (303, "/login?next=/upload")
    with live_server.ctx.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Video)) == 0


def _add_videos(ctx, owner_id: int, count: int, **fields) -> None:
    with ctx.db.session() as session:
        session.add_all(ready_video_row(owner_id, **fields) for _ in range(count))


def _video_upload(client, account, content: bytes | object = b"not really a video"):
    return client.post(
        "/api/v1/videos", headers=account.auth, data={"title": "One more"}, files={"file": ("clip.mp4", content)}
    )


def test_uploads_per_day_count_videos_and_images(settings, make_account):
    merchant = make_account(Role.merchant)
    with app_with(settings, uploads_per_day=3) as (client, ctx):
        lamp = {"title": "Lamp", "price": {"amount": 100, "currency": "EUR"}}
        product = client.post("/api/v1/products", headers=merchant.auth, json=lamp).json()["id"]
        # Two videos today, one yesterday-and-a-bit (no longer counted), and a product image today.
        _add_videos(ctx, merchant.user.id, 2)
        _add_videos(ctx, merchant.user.id, 1, created_at=clock.now() - timedelta(hours=25))
        with ctx.db.session() as session:
            image = ProductImage(product_id=product, key="k", width=1, height=1, position=0, created_at=clock.now())
            session.add(image)
        refused = _video_upload(client, merchant)
        body = assert_problem(refused, 429, "too-many-requests")
        assert body["quota"] == "uploads_per_day" and "VETRINA_UPLOADS_PER_DAY" in body["detail"]
        assert 23 * 3600 < int(refused.headers["Retry-After"]) <= 24 * 3600
        png = {"file": ("a.png", b"x")}
        assert_problem(
            client.post(f"/api/v1/products/{product}/images", headers=merchant.auth, files=png),
            429,
            "too-many-requests",
        )
        # Another merchant's uploads are its own.
        other = make_account(Role.merchant)
        assert_problem(_video_upload(client, other), 415, "unsupported-media")  # past the gate: not a video
        with ctx.db.session() as session:
            assert session.scalar(select(func.count()).select_from(Video)) == 3


def test_bytes_of_video_per_day(settings, make_account):
    merchant = make_account(Role.merchant)
    with app_with(settings, upload_bytes_per_day=4 * 1024**2) as (client, ctx):
        # Today's video took 3 MiB of the 4 in the store.
        _add_videos(ctx, merchant.user.id, 1, source_key="videos/quota/source.mp4")
        source = ctx.store.path("videos/quota/source.mp4")
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(b"\0" * 3 * 1024**2)
        declared = _video_upload(client, merchant, b"\0" * (2 * 1024**2 + 1))
        body = assert_problem(declared, 413, "payload-too-large")
        assert body["quota"] == "upload_bytes_per_day" and body["max_bytes"] == 1024**2
        # Past the gate (its body might have been mostly framing), the file itself is held to what is left.
        assert_problem(_video_upload(client, merchant, b"\0" * (1024**2 + 1)), 413, "payload-too-large")
        # Without a Content-Length, the body is stopped where the day's bytes end.
        chunks = (b"\0" * 1024**2 for _ in range(3))
        streamed = client.post(
            "/api/v1/videos",
            headers={**merchant.auth, "Content-Type": "multipart/form-data; boundary=x"},
            content=chunks,
        )
        assert streamed.status_code == 413 and streamed.headers["content-type"] == "application/problem+json"
        assert "left for today" in streamed.json()["detail"]
        with ctx.db.session() as session:
            assert session.scalar(select(func.count()).select_from(Video)) == 1


def test_videos_processing_at_once(settings, make_account):
    merchant = make_account(Role.merchant)
    with app_with(settings, processing_per_user=2) as (client, ctx):
        _add_videos(ctx, merchant.user.id, 2, status=VideoStatus.processing.value, output_key=None)
        body = assert_problem(_video_upload(client, merchant), 429, "too-many-requests")
        assert body["quota"] == "processing_per_user"
        with ctx.db.session() as session:
            first = session.scalar(select(func.min(Video.id)))
            session.execute(update(Video).where(Video.id == first).values(status=VideoStatus.ready.value))
        assert_problem(_video_upload(client, merchant), 415, "unsupported-media")  # past the gate: not a video


def test_uploads_are_rate_limited_per_user(settings, make_account):
    merchant = make_account(Role.merchant)
    with app_with(settings, rate_limits={"upload": "1/hour"}) as (client, _ctx):
        assert_problem(_video_upload(client, merchant), 415, "unsupported-media")
        refused = _video_upload(client, merchant)
        assert_problem(refused, 429, "too-many-requests")
        assert int(refused.headers["Retry-After"]) > 60
