"""The one command line: `vetrina serve | worker | demo | import | live | users | tokens | wallets | storage`."""

from __future__ import annotations

import getpass
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, NoReturn

import typer
import uvicorn
from pydantic import ValidationError

from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.context import Context
from vetrina.errors import VetrinaError
from vetrina.live import rtmp
from vetrina.payments.funding import uses_sandbox_money
from vetrina.runtime import build_context
from vetrina.storage import StorageMisconfigured

if TYPE_CHECKING:
    from vetrina.partners.models import FeedFailure, FeedRun

# Uploads and transcodes touch their scratch files continuously; six hours untouched means abandoned.
SCRATCH_MAX_AGE_S = 6 * 3600

app = typer.Typer(help="Vetrina: self-hosted shoppable video streaming.", no_args_is_help=True)
users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="Manage API bearer tokens.", no_args_is_help=True)
wallets_app = typer.Typer(help="Credit wallets with money received outside any provider.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
storage_app = typer.Typer(help="Move media between stores.", no_args_is_help=True)
app.add_typer(wallets_app, name="wallets")
app.add_typer(storage_app, name="storage")
live_app = typer.Typer(help="Live shows: the RTMP ingest in front of them.", no_args_is_help=True)
app.add_typer(live_app, name="live")


def _log_to_console() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # huey logs every periodic run at INFO; only its warnings are news.
    logging.getLogger("huey").setLevel(logging.WARNING)


def _recover_interrupted_work(ctx: Context) -> None:
    """On start-up: drop scratch files of work that died, and hand stalled work (transcodes, renders, imports,
    auto-tagging) to a worker."""
    from vetrina.leases import requeue_stalled

    ctx.store.clean_scratch(older_than_s=SCRATCH_MAX_AGE_S)
    requeue_stalled(ctx)


def _context() -> Context:
    """This process's context; settings that cannot work, or a store that cannot be used (no such bucket, refused
    credentials), stop here with what is wrong."""
    try:
        return build_context()
    except StorageMisconfigured as exc:
        _fail(str(exc))
    except ValidationError as exc:
        _fail("; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors()))


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    worker: bool = typer.Option(True, help="Run job workers in this process (embedded default)."),
    workers: int = typer.Option(1, min=1, max=64, help="Web server processes (each with its job workers)."),
    live: bool = typer.Option(
        True, help="Also run nginx-rtmp and the live encoder here, when nginx and libnginx-mod-rtmp are installed."
    ),
    demo_live: bool = typer.Option(False, help="Feed a 10-minute demo live show (make run does)."),
) -> None:
    """Serve the web app and API (with in-process job workers unless --no-worker)."""
    from contextlib import ExitStack

    from vetrina.live.local import local_live_stack

    _log_to_console()
    ctx = _context()
    # Where this machine's nginx-rtmp and demo feed reach the server (a wildcard listen is reached on loopback).
    own_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    # uvicorn stops on SIGTERM, then raises it again at exit: exit by SystemExit then, so the stack below unwinds.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with ExitStack() as running:
        if live and running.enter_context(local_live_stack(ctx.settings, own_url)) and demo_live:
            from vetrina.demo import DemoLiveFeed

            feed = DemoLiveFeed(ctx, own_url)
            feed.start()
            running.callback(feed.stop)
        _serve(ctx, host, port, worker, workers)


def _serve(ctx: Context, host: str, port: int, worker: bool, workers: int) -> None:
    from vetrina.web.app import create_app
    from vetrina.web.metrics import share_between_processes

    if worker:
        _recover_interrupted_work(ctx)
    else:  # no worker here, but uploads still leave scratch behind when a node dies mid-upload
        ctx.store.clean_scratch(older_than_s=SCRATCH_MAX_AGE_S)
    typer.echo(f"Vetrina on http://{host}:{port}  (data: {ctx.settings.data_dir.resolve()})")
    # No proxy_headers: request.client stays the direct peer; vetrina.geo decides which X-Forwarded-For hops to trust.
    if workers == 1:
        uvicorn.run(create_app(ctx, run_worker=worker), host=host, port=port, log_level="info", proxy_headers=False)
        return
    # Several processes: each builds its own ctx from the same VETRINA_* settings.
    ctx.close()
    os.environ["VETRINA_IN_PROCESS_WORKER"] = "true" if worker else "false"
    share_between_processes(ctx.settings)
    uvicorn.run(
        "vetrina.web.app:create_app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
    )


@app.command()
def worker(
    metrics_port: int = typer.Option(0, min=0, max=65535, help="Serve this worker's job metrics on this port."),
    metrics_host: str = typer.Option("127.0.0.1", help="Interface for --metrics-port."),
) -> None:
    """Run job workers in the foreground (for VETRINA_REDIS_URL deployments, on any number of machines)."""
    _log_to_console()
    ctx = _context()
    if metrics_port:
        from vetrina.web.metrics import serve_worker_metrics

        serve_worker_metrics(ctx, metrics_host, metrics_port)
    _recover_interrupted_work(ctx)
    ctx.queue.run_worker()


@app.command()
def demo() -> None:
    """Seed demo users and films (generated with ffmpeg) and prepare them for streaming; safe to re-run."""
    from vetrina.demo import seed_demo

    logging.basicConfig(level=logging.WARNING)
    ctx = _context()
    if not uses_sandbox_money(ctx):
        ctx.close()
        _fail(
            _fail(
                "the demo funds its buyers with sandbox money: run it with "
                "VETRINA_FUNDING_PROVIDERS='[\"sandbox\"]' (make run does)"
            )
        )
    try:
        seed_demo(ctx)
    finally:
        ctx.close()


@app.command("import")
def import_feed(
    source: str = typer.Argument(..., help="A feed's http(s) URL, or a file on this machine (MRSS or CSV)."),
    partner: str = typer.Option(..., help="The email of the partner account the titles belong to."),
    format: str = typer.Option("auto", help="auto, mrss or csv."),  # noqa: A002  (the option's name)
    media: bool = typer.Option(True, help="Fetch new titles' media now and queue their transcodes."),
    name: str | None = typer.Option(None, help="A name for the feed (default: the source)."),
) -> None:
    """Import a partner's catalogue feed, showing progress, then print the report (re-running is safe: items
    are matched by their GUID)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from vetrina.partners import media_fetch, runs
    from vetrina.partners import service as partners

    logging.basicConfig(level=logging.WARNING)
    ctx = _context()
    try:
        with ctx.db.session(write=True) as session:
            user = accounts.get_user_by_email(session, partner)
            if user is None:
                _fail(f"no user {partner}")
            feed = partners.create_feed(
                session,
                user,
                name=name or source[-200:],
                source=source,
                fmt=format,
                local_ok=True,
                allow_private=ctx.settings.fetch_allow_private,
            )
            run = runs.start_run(ctx, session, feed, "cli", fetch_media=False, for_worker=False)
            run_id, feed_id = run.id, feed.id
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=False) as progress:
            task = progress.add_task("importing", total=None)
            finished = runs.run_import(
                ctx,
                run_id,
                on_progress=lambda r: progress.update(task, total=r.total, completed=r.cursor),
            )
            if finished is not None and finished.status == "done":
                progress.update(task, total=finished.total, completed=finished.total)
        if finished is None:
            _fail(f"run {run_id} is being worked on elsewhere")
        with ctx.db.session() as session:
            failures = runs.failures(session, finished)
        _print_report(finished, failures)
        if finished.status != "done":
            raise typer.Exit(code=1)
        if media:
            with Progress(*columns) as progress:
                pending = media_fetch.pending_media(ctx, feed_id)
                task = progress.add_task("fetching media", total=pending)
                made = media_fetch.fetch_media(ctx, feed_id, on_item=lambda _: progress.advance(task))
            typer.echo(
                f"media: {made} new video(s) queued for transcoding (`vetrina serve` or `vetrina worker` runs it)"
            )
    except VetrinaError as exc:
        _fail(exc.detail)
    finally:
        ctx.close()


def _print_report(run: FeedRun, failures: list[FeedFailure]) -> None:
    status = run.status if run.status == "done" else f"{run.status}: {run.error}"
    typer.echo(f"run {run.id} {status}")
    typer.echo(
        f"created {run.created}, updated {run.updated}, unchanged {run.unchanged}, failed {run.failed}, "
        f"removed {run.removed}"
    )
    for failure in failures[:50]:
        typer.echo(f"  item {failure.position} ({failure.guid or 'no guid'}): {failure.reason}")
    if run.failed > 50:
        typer.echo(f"  ... and {run.failed - 50} more (GET /api/v1/partners/feeds/{run.feed_id}/runs/{run.id})")


@live_app.command("rtmp-config")
def live_rtmp_config(
    vetrina_url: str = typer.Option("http://127.0.0.1:8000", help="Where nginx reaches this Vetrina."),
    listen: str = typer.Option("1935", help="nginx's RTMP listen directive (a port, or address:port)."),
) -> None:
    """Print the nginx.conf of the RTMP ingest (Debian: nginx + libnginx-mod-rtmp), its callbacks signed for this
    deployment: `vetrina live rtmp-config > /etc/nginx/vetrina-rtmp.conf && nginx -c /etc/nginx/vetrina-rtmp.conf`."""
    ctx = _context()
    try:
        typer.echo(rtmp.nginx_config(ctx.settings, vetrina_url, listen=listen), nl=False)
    finally:
        ctx.close()


@live_app.command("encoder")
def live_encoder() -> None:
    """Run the live encoder in the foreground: it takes each live show's stream from nginx-rtmp and writes its HLS
    ladder into the store (its own process: one per machine that encodes, any number of machines)."""
    import threading

    from vetrina.live.encoder import LiveEncoder

    _log_to_console()
    ctx = _context()
    stop = threading.Event()
    for caught in (signal.SIGINT, signal.SIGTERM):
        signal.signal(caught, lambda *_: stop.set())
    try:
        LiveEncoder(ctx).run(stop)
    finally:
        ctx.close()


@users_app.command("create")
def users_create(
    email: str,
    role: Role = typer.Option(Role.viewer, help="viewer, merchant, partner or admin."),
    password: str | None = typer.Option(None, help="Prompted for when omitted."),
) -> None:
    """Create a user account."""
    if password is None:
        if not sys.stdin.isatty():
            _fail("give --password, or run in a terminal to be prompted")
        password = getpass.getpass("Password: ")
    ctx = _context()
    try:
        with ctx.db.session() as session:
            user = accounts.create_user(session, email, password, role)
            session.flush()
            typer.echo(f"created {user.role} {user.email} (id {user.id})")
    except VetrinaError as exc:
        _fail(exc.detail)
    finally:
        ctx.close()


@tokens_app.command("create")
def tokens_create(
    email: str,
    name: str = typer.Option("cli", help="A label to recognise the token by."),
    days: int | None = typer.Option(None, help="Days until it expires; default VETRINA_TOKEN_TTL_DAYS."),
) -> None:
    """Issue an API bearer token for a user and print it (it is not shown again)."""
    ctx = _context()
    try:
        with ctx.db.session() as session:
            user = accounts.get_user_by_email(session, email)
            if user is None:
                _fail(f"no user {email}")
            lifetime = ctx.settings.token_ttl_days if days is None else days
            typer.echo(accounts.create_api_token(session, user, name, lifetime))
    except VetrinaError as exc:
        _fail(exc.detail)
    finally:
        ctx.close()


@wallets_app.command("credit")
def wallets_credit(
    email: str = typer.Argument(..., help="The account whose wallet receives the money."),
    amount: str = typer.Argument(..., help="What was received, as a decimal: 120.50"),
    currency: str = typer.Argument(..., help="Its ISO 4217 currency: EUR"),
    reference: str = typer.Option(..., help="The transfer's own reference: one credit per reference."),
) -> None:
    """Credit money received by bank transfer (or any way outside a provider) to a user's wallet, once per
    reference: re-running with the same reference, user and amount credits nothing more."""
    from vetrina.money import Money
    from vetrina.payments import credits

    ctx = _context()
    try:
        with ctx.db.session(write=True) as session:
            user = accounts.get_user_by_email(session, email)
            if user is None:
                _fail(f"no user {email}")
            money = Money.parse(amount, currency)
            row, created = credits.credit(session, user, money, reference, f"cli ({_os_user()})")
            shown = Money(row.amount, row.currency).display()
            if created:
                typer.echo(f"credited {shown} to {user.email} (credit {row.id}, reference {row.reference})")
            else:
                typer.echo(
                    f"already credited: {shown} to {user.email} (credit {row.id}, reference {row.reference}, "
                    f"by {row.credited_by}); nothing more credited"
                )
    except VetrinaError as exc:
        _fail(exc.detail)
    finally:
        ctx.close()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment and none in the password database
        return f"uid {os.getuid()}"


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (serve, worker and demo also do this)."""
    _context().close()
    typer.echo("database is up to date")


@storage_app.command("migrate")
def storage_migrate(
    to: str = typer.Option(..., "--to", help="The bucket to copy into: s3://bucket/prefix."),
    endpoint_url: str = typer.Option("", help="The object store's endpoint (default: VETRINA_S3_ENDPOINT_URL)."),
) -> None:
    """Copy the local media directory into object storage, checking every object's checksum; run it again to
    resume. Then set VETRINA_STORAGE_URL to the same URL."""
    from vetrina.settings import Settings
    from vetrina.storage import LocalStore
    from vetrina.storage.migrate import migrate
    from vetrina.storage.s3 import S3Store

    settings = Settings()
    endpoint = endpoint_url or settings.s3_endpoint_url
    try:
        target = S3Store.from_url(to, settings.data_dir / "work", settings.signing_key, endpoint)
        target.check()
    except (ValueError, StorageMisconfigured) as exc:
        _fail(str(exc))
    source = LocalStore(settings.media_dir, settings.signing_key)
    report = migrate(source, target, lambda key, outcome: typer.echo(f"{outcome:14s} {key}"))
    typer.echo(
        f"{report.copied} copied ({report.bytes_copied} bytes), {report.already_there} already there, "
        f"{len(report.mismatched)} not matching their checksum"
    )
    if report.mismatched:
        _fail("some objects did not arrive intact; run the command again")
