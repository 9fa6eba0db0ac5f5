"""Shared fixtures: real SQLite and PostgreSQL databases, real huey queues, real ffmpeg clips, a real server, real
Chromium. Plain helpers (no fixtures) are in tests/helpers.py."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _pytest.nodeid import NodeId
from fastapi.testclient import TestClient

from tests.helpers import (
    PASSWORD,
    POSTGRES_URL,
    Account,
    LiveServer,
    free_port,
    make_clip,
    migrated_postgres_template,
    migrated_sqlite,
    postgres_database,
    postgres_schema,
    postgres_unreachable,
    served,
)
from tests.payments.alipay_helpers import FakeAlipay
from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.context import Context
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.web.app import create_app

# The suite funds its buyers with sandbox money, as `make run` does; tests of a site with no funding provider
# configure none explicitly. Set here, so servers the tests start in subprocesses inherit it.
os.environ.setdefault("VETRINA_FUNDING_PROVIDERS", '["sandbox"]')
# Object-storage tests talk to moto's S3 in server mode, which takes any credentials: these, never real ones.
for name, value in (("AWS_ACCESS_KEY_ID", "vetrina-test"), ("AWS_SECRET_ACCESS_KEY", "vetrina-test")):
    os.environ[name] = value
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
POSTGRES_SKIP = postgres_unreachable()


# `make test` runs the suite on two workers (pytest-xdist, --dist loadgroup). The tests that drive Chromium, stream
# live or stand up a deployment wait on real playback and real processes: they run one after another on one worker,
# so that two of them never share the machine's two cores; everything else is spread over both.
ONE_AT_A_TIME_FIXTURES = {"browser"}
ONE_AT_A_TIME_FOLDERS = {"a11y", "deploy", "e2e", "live", "players"}
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grouping = getattr(config.option, "loadgroup", False)  # set on xdist's workers under --dist loadgroup
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
        if ONE_AT_A_TIME_FIXTURES.intersection(getattr(item, "fixturenames", ())) or folder in ONE_AT_A_TIME_FOLDERS:
            item.add_marker(pytest.mark.xdist_group("one_at_a_time"))
            if grouping and not item.nodeid.endswith("@one_at_a_time"):
                # xdist 3.8 groups by a "@group" suffix on the test's id, which it sets as `item._nodeid`; pytest 9
                # keeps the id in `item._id` and ignores that, so the group is named here the way pytest 9 reads it.
                item._id = NodeId.parse(f"{item.nodeid}@one_at_a_time")  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database migrated once per session; each test gets a copy (migrating takes over a second)."""
    return migrated_sqlite(tmp_path_factory.mktemp("template") / "vetrina.db")


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str]:
    """One PostgreSQL database migrated once per session, the template of each test's own."""
    if POSTGRES_SKIP:
        pytest.skip(POSTGRES_SKIP)
    with migrated_postgres_template() as name:
        yield name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that takes this runs once on SQLite and once on real PostgreSQL, on a database of its own that is
    already at the newest schema (the migrations themselves are tested in tests/test_db.py)."""
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), tmp_path / "vetrina.db")
        yield f"sqlite:///{tmp_path / 'vetrina.db'}"
        return
    if POSTGRES_SKIP:
        pytest.skip(POSTGRES_SKIP)
    with postgres_database(request.getfixturevalue("migrated_postgres")) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing migrated yet, on SQLite and on PostgreSQL (a new, empty schema): for the migrations'
    own tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if POSTGRES_SKIP:
        pytest.skip(POSTGRES_SKIP)
    with postgres_schema(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret",
        x264_preset="ultrafast",
        job_poll_max_s=0.2,
    )


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    ctx = build_context(settings)
    yield ctx
    ctx.close()


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    """The app in-process, with its job workers running as threads, as `vetrina serve` runs them."""
    with TestClient(create_app(ctx, run_worker=True)) as test_client:
        yield test_client


@pytest.fixture
def make_account(ctx: Context):
    def make(role: Role = Role.merchant, email: str | None = None) -> Account:
        with ctx.db.session() as session:
            user = accounts.create_user(session, email or f"{role}-{secrets.token_hex(4)}@example.com", PASSWORD, role)
            session.flush()
            token = accounts.create_api_token(session, user)
        return Account(user=user, token=token)

    return make


@pytest.fixture(scope="session", autouse=True)
def _light_password_hashes() -> Iterator[None]:
    """argon2id with its lightest parameters inside the test process: the same algorithm and code paths at a hundredth
    of the cost (a default hash takes a quarter of a second on these machines, and the suite makes thousands).
    Processes the tests start (servers, workers, the command line) keep the defaults."""
    from argon2 import PasswordHasher

    from vetrina.accounts import service as account_service

    default = account_service._hasher
    account_service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    account_service._hasher = default


@pytest.fixture(autouse=True)
def _wall_clock() -> Iterator[None]:
    yield
    clock.set_clock(None)


# Media made by ffmpeg once per test session and shared read-only.
@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media-samples")


@pytest.fixture(scope="session")
def short_clip(media_dir: Path) -> Path:
    """6 s of 640x480 with sound: two renditions (480p, 360p), two segments."""
    return make_clip(media_dir / "short.mp4", 6)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """S3 as moto serves it (its server mode, on a loopback port): the real protocol, to the real boto3."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    port = free_port()
    server = ThreadedMotoServer("127.0.0.1", port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket of the test's own."""
    import boto3

    name = f"vetrina-{secrets.token_hex(6)}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def live_server(ctx: Context) -> Iterator[LiveServer]:
    """The app behind a real uvicorn on a loopback port, for clients that speak real HTTP."""
    with served(ctx) as url:
        yield LiveServer(url=url, ctx=ctx)


@dataclass
class AlipayLive:
    url: str
    fake: FakeAlipay
    ctx: Context


@pytest.fixture
def alipay_live(settings: Settings) -> Iterator[AlipayLive]:
    """A real server taking Alipay (its gateway a local stand-in), over the test's database."""
    fake = FakeAlipay()
    port = free_port()
    site = build_context(settings.model_copy(update={**fake.settings(), "base_url": f"http://127.0.0.1:{port}"}))
    try:
        with served(site, port) as url:
            yield AlipayLive(url, fake, site)
    finally:
        site.close()
        fake.close()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (the e2e tests and the dashboards' drawing test)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it where it can)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()
