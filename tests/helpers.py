"""Plain helpers for every test package (no fixtures: those live in the conftest.py files): the test services'
addresses, the accounts' password, ffmpeg-made clips, polling, free ports, and the shapes fixtures return."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn

from tests.ads.helpers import campaign_row
from vetrina import clock
from vetrina.accounts.models import User
from vetrina.ads.models import VideoAdSettings
from vetrina.ads.vast import Ad, read_vast
from vetrina.context import Context
from vetrina.media.ffmpeg import run_ffmpeg
from vetrina.media.models import Video, VideoStatus
from vetrina.shoppable.models import AutotagRun, TagProposal
from vetrina.web.app import create_app

REDIS_URL = os.environ.get("VETRINA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct horse battery"


def redis_skip_reason() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} is not reachable ({exc.__class__.__name__}); its tests are skipped"
    return None


@dataclass
class Account:
    user: User
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_clip(
    path: Path, seconds: float, size: str = "640x480", audio: bool = True, faststart: bool = False, rate: int = 25
) -> Path:
    if path.exists():
        return path
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    if faststart:
        args += ["-movflags", "+faststart"]
    run_ffmpeg([*args, str(path)])
    return path


POSTGRES_URL = os.environ.get("VETRINA_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used here (its tests are then skipped), or None."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc.__class__.__name__}); its tests are skipped"


def _postgres_admin() -> Any:
    import psycopg

    return psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True)


def _postgres_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


@contextmanager
def migrated_postgres_template() -> Iterator[str]:
    """A PostgreSQL database migrated to the newest schema, to copy for each test (copying is ten times quicker than
    migrating); its name. Dropped afterwards."""
    from vetrina.db import Database

    name = f"vtr_template_{secrets.token_hex(6)}"
    with _postgres_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        database = Database(_postgres_url(name))
        database.migrate()
        database.dispose()  # a template may have no connections
        yield name
    finally:
        with _postgres_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_database(template: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database copied from `template`, dropped afterwards."""
    name = f"vtr_test_{secrets.token_hex(6)}"
    with _postgres_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    try:
        yield _postgres_url(name)
    finally:
        with _postgres_admin() as conn:
            # A job thread or a process of the test may still be connected (workers stop without waiting).
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def migrated_sqlite(path: Path) -> Path:
    """A SQLite database at `path` migrated to the newest schema, whole in its one file (to copy for each test)."""
    import sqlite3

    from vetrina.db import Database

    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """A database URL on `server_url` whose tables go in a new, empty schema of its own, dropped afterwards."""
    import psycopg

    schema = f"vtr_test_{secrets.token_hex(6)}"
    plain = server_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        # Named after the schema, so that its connections can be found when it is dropped.
        yield f"{server_url}?application_name={schema}&options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            # A job thread or a process of the test may still be at work (workers stop without waiting): its
            # connection would deadlock with the DROP.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (schema,)
            )
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def wait_for(condition, timeout_s: float = 60, interval_s: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {message}")


def finished_run_with_proposal(
    session: Any, video_id: int, user_id: int, product_id: int, start_s: float, end_s: float
) -> tuple[AutotagRun, TagProposal]:
    """A finished auto-tagging run of `video_id` and its one pending proposal of `product_id`, written directly."""
    run = AutotagRun(
        video_id=video_id,
        requested_by=user_id,
        product_ids=[product_id],
        catalogue_key="k",
        status="done",
        created_at=clock.now(),
    )
    session.add(run)
    session.flush()
    proposal = TagProposal(
        video_id=video_id,
        run_id=run.id,
        requested_by=user_id,
        product_id=product_id,
        start_s=start_s,
        end_s=end_s,
        box={"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2},
        confidence=0.9,
        created_at=clock.now(),
    )
    session.add(proposal)
    session.flush()
    return run, proposal


@dataclass(frozen=True)
class ServedOverlay:
    campaign_id: int
    ad: Ad
    vast: bytes  # the VAST answer as served


def serve_overlay_ad(
    http: Any, ctx: Context, merchant: Account, video_id: int, product_id: int, name: str = "Mug card"
) -> ServedOverlay:
    """An overlay break at 2 s in the merchant's ready video and a CPC card campaign `name` for the product (its photo
    uploaded; written directly; the merchant funded), served once through the VAST answer so its SIMID creative exists:
    the campaign's id, the ad served (its `ad_serving_id` is the decision's, `/simid/overlay/{decision_id}`) and the
    VAST answer. `http` is an httpx or a Starlette test client."""
    with ctx.db.session(write=True) as session:
        session.add(
            VideoAdSettings(
                video_id=video_id, preroll=False, midrolls_s=[], overlays_s=[2.0], floor_cpm=0, currency="EUR"
            )
        )
        campaign = campaign_row(
            merchant.user.id, clock.now(), name=name, product_id=product_id, bid_model="cpc", bid_amount=40
        )
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    vast = http.get("/api/v1/ads/vast", params={"video_id": video_id, "slot": "overlay-1"})
    assert vast.status_code == 200, vast.text
    (ad,) = read_vast(vast.content).ads
    return ServedOverlay(campaign_id, ad, vast.content)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    ctx: Context


def ready_video_row(owner_id: int, **overrides: Any) -> Video:
    """A ready, published video row written directly, for tests that need no transcode (60 s of 1280x720)."""
    fields: dict[str, Any] = {
        "owner_id": owner_id,
        "title": "Lookbook",
        "description": "",
        "status": VideoStatus.ready.value,
        "progress": 1.0,
        "duration_s": 60.0,
        "width": 1280,
        "height": 720,
        "frame_rate": 30.0,
        "has_audio": True,
        "renditions": [],
        "published": True,
        "allow_merchant_tags": False,
        "output_key": "videos/x/hls-y",
        "created_at": clock.now(),
    }
    return Video(**{**fields, **overrides})


def in_bucket(settings: Any, endpoint: str, bucket: str, prefix: str = "", **more: Any) -> Any:
    """`settings` with media in `bucket` (under `prefix`) of the S3 endpoint, and `more` changes."""
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    return settings.model_copy(update={"storage_url": url, "s3_endpoint_url": endpoint, **more})


@contextmanager
def served(ctx: Context, port: int | None = None) -> Iterator[str]:
    """The app of `ctx` behind a real uvicorn on a loopback port (a free one by default), with its job workers;
    yields its URL."""
    port = port or free_port()
    # As `vetrina serve` runs it: request.client is the direct peer, X-Forwarded-For is vetrina.geo's to judge.
    config = uvicorn.Config(
        create_app(ctx, run_worker=True), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout_s=15, message="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in_page(page: Any, site: str, account: Any, next_path: str) -> None:
    """Sign `account` in through `site`'s login page in Chromium and wait until it has led on to `next_path`."""
    page.goto(f"{site}/login?next={next_path}")
    page.fill("input[name=email]", account.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def wait_in_page(page: Any, expression: str, timeout_ms: float = 30_000) -> None:
    """Wait until `expression` is truthy in the page. Playwright's wait_for_function compiles its predicate with
    eval inside the page, which the pages' Content-Security-Policy forbids; evaluating from outside is allowed."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_ms / 1000:.0f} s: {expression}")
        page.wait_for_timeout(100)


@dataclass(frozen=True)
class S3WithAuth:
    endpoint: str
    access_key: str
    secret_key: str


@contextmanager
def s3_that_checks_credentials(bucket: str) -> Iterator[S3WithAuth]:
    """moto's S3 server in a process of its own that checks credentials (the shared one takes any): an IAM user
    allowed S3, its access key, and `bucket`; yields where it is and the user's keys."""
    import json
    import subprocess
    import sys

    import boto3
    import httpx

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The first three requests (making the user, its key and its policy) go unchecked; every later one is checked.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _answers(f"{endpoint}/moto-api/", httpx), timeout_s=20, message="moto to listen")
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
        iam.create_user(UserName="vetrina")
        key = iam.create_access_key(UserName="vetrina")["AccessKey"]
        allow_s3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="vetrina", PolicyName="s3", PolicyDocument=json.dumps(allow_s3))
        keys = S3WithAuth(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id=keys.access_key, aws_secret_access_key=keys.secret_key
        )
        s3.create_bucket(Bucket=bucket)
        yield keys
    finally:
        server.terminate()
        server.wait(timeout=10)


def _answers(url: str, httpx: Any) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.TransportError:
        return False


@dataclass
class OtherSite:
    """Another site on a loopback address (another origin than the app's): the pages it serves, by path (the query
    ignored), and the paths it was asked for, in order."""

    origin: str
    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def add(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> str:
        """Serve `body` at `path`; its URL."""
        self.pages[path] = (content_type, body.encode() if isinstance(body, str) else body)
        return self.origin + path


@contextmanager
def other_site(host: str, port: int = 0) -> Iterator[OtherSite]:
    """An `OtherSite` served on `host` (a free port by default) while the block runs; unknown paths are 404s."""
    site = OtherSite("")

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            site.asked.append(path)
            content_type, body = site.pages.get(path, ("text/plain", b""))
            self.send_response(200 if path in site.pages else 404)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Pages)
    site.origin = f"http://{host}:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
