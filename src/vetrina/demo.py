"""`vetrina demo`: demo accounts, films (generated with ffmpeg's lavfi sources, ready to stream), and a shop:
products with photos, a funded buyer and one finished escrow trade.

Idempotent: users and videos that already exist are left as they are.
"""

from __future__ import annotations

import html
import io
import json
import logging
import math
import random
import shutil
import subprocess
import threading
import time
import urllib.request
import wave
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast

from PIL import Image, ImageDraw, ImageFont
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role, User
from vetrina.ads import campaigns as ad_campaigns
from vetrina.ads.models import VideoAdSettings
from vetrina.analytics.models import PlayerEvent
from vetrina.catalog import channels
from vetrina.catalog import service as catalog
from vetrina.commerce import service as orders
from vetrina.context import Context
from vetrina.live import service as live
from vetrina.media import service as media
from vetrina.media import subtitles
from vetrina.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from vetrina.media.models import Video, VideoStatus
from vetrina.money import Money
from vetrina.partners.models import FeedItem
from vetrina.payments import credits, wallet
from vetrina.payments.funding import funding_provider
from vetrina.payouts import service as payouts
from vetrina.shoppable import service as shoppable
from vetrina.shoppable.autotag import service as autotag
from vetrina.shoppable.autotag.synthetic import FONT, Appearance, make_footage
from vetrina.shoppable.models import AutotagRun
from vetrina.studio import assets as studio_assets
from vetrina.studio import service as studio
from vetrina.studio.models import Spot

DEMO_PASSWORD = "vetrina-demo"
DEMO_CHANNEL = "vetrina-demo-shop"
DEMO_BUYER = "buyer@vetrina.demo"
DEMO_USERS = (
    ("merchant@vetrina.demo", Role.merchant),
    (DEMO_BUYER, Role.viewer),
    ("admin@vetrina.demo", Role.admin),
    ("studio@vetrina.demo", Role.partner),
)


@dataclass(frozen=True)
class DemoFilm:
    title: str
    description: str
    video_source: str
    audio_source: str
    seconds: int = 24


DEMO_FILMS = (
    DemoFilm(
        "Summer Collection: Test Pattern Edition",
        "A short film with products on screen: buy them from the cards without stopping the film.",
        "testsrc2=size=1280x720:rate=30",
        "sine=frequency=330:sample_rate=48000",
    ),
    DemoFilm(
        "Colour Drift",
        "Slow gradients, for checking quality switching and seek previews.",
        "gradients=size=1280x720:rate=30:speed=0.02:n=4",
        "sine=frequency=220:sample_rate=48000",
    ),
    DemoFilm(
        "Studio Bars (vertical)",
        "A 9:16 clip, the shape of a phone ad spot.",
        "smptehdbars=size=720x1280:rate=30",
        "anoisesrc=color=pink:amplitude=0.05:sample_rate=48000",
        seconds=12,
    ),
)


def _demo_user(ctx: Context, email: str, role: Role) -> User:
    with ctx.db.session() as session:
        user = accounts.get_user_by_email(session, email)
        if user is None:
            user = accounts.create_user(session, email, DEMO_PASSWORD, role)
            session.flush()
        return user


def seed_demo(ctx: Context) -> None:
    """Create the demo users and films; transcode the films with the real job queue, showing progress."""
    users = {email: _demo_user(ctx, email, role) for email, role in DEMO_USERS}
    merchant = users["merchant@vetrina.demo"]
    ctx.queue.start_in_process()
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn()
        ) as progress:
            pending = {}
            for film in DEMO_FILMS:
                video_id = _existing_film(ctx, merchant, film.title)
                if video_id is None:
                    task = progress.add_task(f"generate {film.title}", total=film.seconds)
                    video_id = _add_film(ctx, merchant, film, _advance(progress, task))
                    progress.update(task, completed=film.seconds)
                pending[video_id] = progress.add_task(f"stream  {film.title}", total=1.0)
            _wait_until_ready(ctx, pending, progress)
    finally:
        ctx.queue.stop_in_process()
    _seed_shop(ctx, merchant, users[DEMO_BUYER])
    _seed_merchant_money(ctx, merchant, users[DEMO_BUYER], users["admin@vetrina.demo"])
    _tag_demo_film(ctx, merchant)
    _subtitle_demo_film(ctx, merchant)
    _let_a_shop_sell_in_frames(ctx, merchant)
    _make_demo_spot(ctx, merchant)
    _make_lookbook(ctx, merchant)
    _run_demo_campaigns(ctx, merchant)
    _import_partner_catalogue(ctx, users["studio@vetrina.demo"])
    _simulate_audience(ctx, merchant)
    _schedule_live_show(ctx, merchant)
    for email, _role in DEMO_USERS:
        print(f"  {email:24s} password: {DEMO_PASSWORD}")


@dataclass(frozen=True)
class DemoProduct:
    title: str
    description: str
    price: int
    colour: tuple[int, int, int]
    stock: int = 20
    variants: tuple[tuple[str, int], ...] = ()
    translations: dict[str, dict[str, str]] | None = None  # the cards and product pages of Italian, Chinese readers


DEMO_PRODUCTS = (
    DemoProduct(
        "Linen shirt",
        "Washed linen, relaxed fit.",
        5900,
        (214, 196, 160),
        variants=(("S", 5), ("M", 8), ("L", 4)),
        translations={
            "it": {"title": "Camicia di lino", "description": "Lino lavato, vestibilità morbida."},
            "zh": {"title": "亚麻衬衫", "description": "水洗亚麻，宽松版型。"},
        },
    ),
    DemoProduct(
        "Ceramic mug",
        "Hand-glazed stoneware, 350 ml.",
        1800,
        (70, 110, 150),
        translations={
            "it": {"title": "Tazza in ceramica", "description": "Gres smaltato a mano, 350 ml."},
            "zh": {"title": "陶瓷马克杯", "description": "手工上釉炻器，350 毫升。"},
        },
    ),
    DemoProduct(
        "Canvas tote",
        "Heavy cotton canvas with a leather strap.",
        3200,
        (160, 70, 60),
        stock=12,
        translations={
            "it": {"title": "Borsa in tela", "description": "Tela di cotone pesante con tracolla in pelle."},
            "zh": {"title": "帆布托特包", "description": "厚实棉帆布，配皮革肩带。"},
        },
    ),
)


def _seed_shop(ctx: Context, merchant: User, buyer: User) -> None:
    """Demo products with photos, a funded buyer and one finished escrow trade (each only once)."""
    currency = ctx.settings.default_currency
    with ctx.db.session(write=True) as session:
        channel = channels.channel_of(session, merchant)
        if channel.handle != DEMO_CHANNEL:
            changes = {"handle": DEMO_CHANNEL, "name": "Vetrina Demo Shop", "description": "Linen, ceramics, canvas."}
            channels.update_channel(session, channel.handle, merchant, changes)
    with ctx.db.session(write=True) as session:
        existing = {
            p.title for p in catalog.list_products(session, 1, 100, merchant_id=merchant.id, viewer=merchant).items
        }
    for spec in DEMO_PRODUCTS:
        if spec.title in existing:
            continue
        with ctx.db.session(write=True) as session:
            product = catalog.create_product(
                session,
                merchant,
                title=spec.title,
                description=spec.description,
                price=Money(spec.price, currency),
                stock=spec.stock,
                published=True,
                variants=[catalog.VariantSpec(name=n, stock=s, options={"size": n}) for n, s in spec.variants],
                translations=spec.translations,
            )
            photo = ctx.store.scratch_dir(f"demo-photo-{product.id}") / "photo.png"
            _product_photo(spec).save(photo)
            catalog.add_image(ctx, session, product.id, merchant, photo)
            shutil.rmtree(photo.parent, ignore_errors=True)
    with ctx.db.session(write=True) as session:
        if orders.list_orders(session, buyer, 1, 1).total:
            return
        wallet.top_up(session, funding_provider(ctx, "sandbox"), buyer, Money(50_000, currency), "demo")
        mug = next(
            p for p in catalog.list_products(session, 1, 100, merchant_id=merchant.id).items if p.title == "Ceramic mug"
        )
        order = orders.create_order(
            ctx, session, buyer, [orders.ItemSpec(mug.id, 2)], territory=ctx.settings.default_territory
        )
        orders.pay(ctx, session, order.id, buyer)
        orders.ship(ctx, session, order.id, merchant, "DHL", "DEMO0001")
        orders.confirm(ctx, session, order.id, buyer)


def _seed_merchant_money(ctx: Context, merchant: User, buyer: User, admin: User) -> None:
    """The merchant tops up for its ads and is paid out part of its sales (by hand, as a bank would); the buyer is
    credited a bank transfer by the admin. Each only once: credits by their reference, the rest by the payout."""
    currency = ctx.settings.default_currency
    with ctx.db.session(write=True) as session:
        credits.credit(session, buyer, Money(10_000, currency), "DEMO-BANK-TRANSFER-0001", by="vetrina demo")
        if payouts.list_payouts(session, merchant, 1, 1).total:
            return
        wallet.top_up(session, funding_provider(ctx, "sandbox"), merchant, Money(20_000, currency), "demo-ads")
        payout = payouts.request_payout(ctx, session, merchant, Money(2_000, currency))
        payouts.mark_paid(ctx, session, payout.id, admin, "DEMO-SEPA-0001")


def _schedule_live_show(ctx: Context, merchant: User) -> None:
    """A live show of the shop's products, scheduled for tomorrow (only once: its key is shown when it is made)."""
    with ctx.db.session(write=True) as session:
        if any(show.host_id == merchant.id for show in live.list_shows(session, None)):
            return
        products = catalog.list_products(session, 1, 100, merchant_id=merchant.id).items
        tomorrow = clock.now().replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(days=1)
        show, key = live.create_show(session, merchant, "The shop, live", tomorrow, [p.id for p in products])
    print(
        f"  a live show is scheduled (GET /api/v1/live/{show.id}); go live from OBS or ffmpeg to "
        f"{ctx.settings.live_rtmp_url}/{key} once nginx-rtmp runs `vetrina live rtmp-config`"
    )


class DemoLiveFeed:
    """The demo's show that is live now: a new show of the shop's products, fed by ffmpeg with a generated 360p
    picture (a clock burned in) and a tone, as a host's OBS would, once Vetrina answers at `vetrina_url`; it ends
    by itself after `seconds` and becomes a replay."""

    def __init__(self, ctx: Context, vetrina_url: str, seconds: int = 600) -> None:
        self.ctx, self.vetrina_url, self.seconds = ctx, vetrina_url.rstrip("/"), seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, name="demo-live-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _feed(self) -> None:
        if not self._wait_for_vetrina():
            return
        with self.ctx.db.session(write=True) as session:
            merchant = accounts.get_user_by_email(session, DEMO_USERS[0][0])
            if merchant is None:
                return
            products = catalog.list_products(session, 1, 10, merchant_id=merchant.id).items
            show, key = live.create_show(
                session, merchant, "A tasting from the demo shop", None, [p.id for p in products]
            )
            show_id, merchant_id = show.id, merchant.id
            product_ids = [p.id for p in products]
            token = accounts.create_api_token(session, merchant, name="demo live host", days=1)
            buyer = accounts.get_user_by_email(session, DEMO_BUYER)
            buyer_token = accounts.create_api_token(session, buyer, name="demo live buyer", days=1) if buyer else None
        print(f"  live now: show {show_id} on {self.vetrina_url}/live/{show_id} (for {self.seconds // 60} minutes)")
        clock_text = r"LIVE %{localtime\:%H\\\:%M\\\:%S}"  # drawtext escapes its colons twice
        picture = (
            f"testsrc2=size=640x360:rate=25:duration={self.seconds},"
            f"drawtext=fontfile={FONT}:text='{clock_text}':x=20:y=20:fontsize=32:fontcolor=white:"
            "box=1:boxcolor=black@0.6"
        )
        command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", picture]
        command += ["-re", "-f", "lavfi", "-i", f"sine=frequency=330:duration={self.seconds}"]
        command += ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-b:v", "700k", "-c:a", "aac"]
        command += ["-f", "flv", f"{self.ctx.settings.live_rtmp_url}/{key}"]
        publisher = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        script = DemoHostScript(self.vetrina_url, token, buyer_token, show_id, product_ids)
        started = time.monotonic()
        while publisher.poll() is None and not self._stop.wait(1):
            script.act(time.monotonic() - started)
        if publisher.poll() is None:
            publisher.terminate()
            publisher.wait()
        with self.ctx.db.session(write=True) as session:
            host = session.get(User, merchant_id)
            if host is not None:
                live.end_show(session, show_id, host)

    def _wait_for_vetrina(self) -> bool:
        deadline = time.monotonic() + 120
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.vetrina_url}/healthz", timeout=2):  # noqa: S310  (our own URL)
                    return True
            except OSError:
                self._stop.wait(0.5)
        return False


class DemoHostScript:
    """What the demo show's host does, through the API as a host's page would: greets the chat, pins the shop's
    products in turn, and runs a flash sale of the first one; and what the demo buyer does watching it: buys each
    pinned product a little after it is pinned (so the show's analytics and highlights have sales). Each step once,
    when its second comes."""

    def __init__(self, vetrina_url: str, host_token: str, buyer_token: str | None, show_id: int, products: list[int]):
        self.api, self.host_token, self.buyer_token = f"{vetrina_url}/api/v1", host_token, buyer_token
        self.show_id, self.product_ids = show_id, products
        self.done: set[int] = set()

    def act(self, elapsed_s: float) -> None:
        show = f"live/{self.show_id}"
        steps: dict[int, Callable[[], object]] = {
            15: partial(
                self._post, self.host_token, f"{show}/chat", {"text": "Welcome to the tasting! Ask me anything."}
            )
        }
        for index, product_id in enumerate(self.product_ids[:3]):
            steps[25 + 60 * index] = partial(self._post, self.host_token, f"{show}/pins", {"product_id": product_id})
            steps[40 + 60 * index] = partial(self._buy, product_id, index + 1)
        if self.product_ids:
            price = {"amount": 100, "currency": "EUR"}
            sale = {"product_id": self.product_ids[0], "price": price, "quantity": 3, "seconds": 120, "per_buyer": 1}
            steps[45] = partial(self._post, self.host_token, f"{show}/flash-sales", sale)
        for second, step in steps.items():
            if elapsed_s >= second and second not in self.done:
                self.done.add(second)
                step()

    def _buy(self, product_id: int, quantity: int) -> None:
        if self.buyer_token is None:
            return
        seen = (clock.now() - timedelta(seconds=3)).isoformat()  # the buyer's screen is a few seconds behind
        body = {"items": [{"product_id": product_id, "quantity": quantity}]}
        order = self._post(self.buyer_token, "orders", {**body, "live": {"show_id": self.show_id, "stream_time": seen}})
        if order is not None:
            self._post(self.buyer_token, f"orders/{order['id']}/pay", {})

    def _post(self, token: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        request = urllib.request.Request(  # noqa: S310  (our own server)
            f"{self.api}/{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310  (our own server)
                return cast(dict[str, Any], json.loads(answer.read()))
        except (OSError, ValueError) as exc:  # a step refused (a sale's price above a product's, say): the show goes on
            logging.getLogger(__name__).info("demo live: %s refused: %s", path, exc)
            return None


def _tag_demo_film(ctx: Context, merchant: User) -> None:
    """Tag the shop's products in the first demo film, one after another (only once)."""
    with ctx.db.session(write=True) as session:
        video_id = _existing_film(ctx, merchant, DEMO_FILMS[0].title)
        if video_id is None or shoppable.list_tags(session, video_id, merchant):
            return
        products = catalog.list_products(session, 1, 100, merchant_id=merchant.id, viewer=merchant).items
        for index, product in enumerate(sorted(products, key=lambda p: p.id)):
            start = 2.0 + index * 7
            box = {"x": 0.08 + index * 0.3, "y": 0.25, "w": 0.25, "h": 0.4}
            spec = shoppable.TagSpec(
                product_id=product.id, start_s=start, end_s=start + 6, box=box, label=product.title
            )
            shoppable.create_tag(ctx, session, video_id, merchant, spec)


# The first demo film's subtitles: what is on screen, as its product tags place it (2-8, 9-15, 16-22 s). Italian is
# written as SubRip, which the upload converts to WebVTT.
DEMO_SUBTITLES = {
    "en": """WEBVTT

00:00:00.500 --> 00:00:03.500
Summer Collection, test pattern edition.

00:00:04.000 --> 00:00:07.500
The linen shirt: washed linen, relaxed fit.

00:00:09.000 --> 00:00:13.000
A hand-glazed stoneware mug, 350 ml.

00:00:16.000 --> 00:00:20.000
The canvas tote, with a leather strap.

00:00:21.000 --> 00:00:23.500
Tap a card to buy without stopping the film.
""",
    "it": """1
00:00:00,500 --> 00:00:03,500
Collezione estiva, edizione monoscopio.

2
00:00:04,000 --> 00:00:07,500
La camicia di lino: lino lavato, vestibilità comoda.

3
00:00:09,000 --> 00:00:13,000
Una tazza in gres smaltata a mano, 350 ml.

4
00:00:16,000 --> 00:00:20,000
La borsa in tela, con tracolla in pelle.

5
00:00:21,000 --> 00:00:23,500
Tocca una scheda per comprare senza fermare il film.
""",
    "zh-Hans": """WEBVTT

00:00:00.500 --> 00:00:03.500
夏季系列，测试图案版。

00:00:04.000 --> 00:00:07.500
亚麻衬衫：水洗亚麻，宽松版型。

00:00:09.000 --> 00:00:13.000
手工上釉的炻器马克杯，350 毫升。

00:00:16.000 --> 00:00:20.000
帆布托特包，配皮革肩带。

00:00:21.000 --> 00:00:23.500
点击卡片即可购买，无需暂停影片。
""",
}


def _subtitle_demo_film(ctx: Context, merchant: User) -> None:
    """English, Italian and Chinese subtitles for the first demo film (only once): its player's menu offers them,
    and its master playlist lists them as subtitle renditions."""
    with ctx.db.session(write=True) as session:
        video_id = _existing_film(ctx, merchant, DEMO_FILMS[0].title)
        if video_id is None or subtitles.list_subtitles(session, video_id):
            return
        for language, text in DEMO_SUBTITLES.items():
            subtitles.add_subtitles(ctx, session, video_id, merchant, language, io.BytesIO(text.encode()))


# The shop's own site (another origin than the demo server's), allowed to sell inside its frames of the player.
DEMO_SHOP_SITE = "http://localhost:8080"


def _let_a_shop_sell_in_frames(ctx: Context, merchant: User) -> None:
    """Allow the shop's own site to sell in frames of the demo channel's player, and write that site's page: the
    first film framed, with the drawer's sign-in and payment inside the frame."""
    video_id = _existing_film(ctx, merchant, DEMO_FILMS[0].title)
    if video_id is None:
        return
    with ctx.db.session(write=True) as session:
        channel = channels.channel_of(session, merchant)
        handle = channel.handle
        if DEMO_SHOP_SITE not in channel.embed_origins:
            changes = {"embed_origins": [*channel.embed_origins, DEMO_SHOP_SITE]}
            channels.update_channel(session, channel.handle, merchant, changes)
    site = ctx.settings.data_dir / "demo-site"
    site.mkdir(parents=True, exist_ok=True)
    vetrina = ctx.settings.base_url or "http://127.0.0.1:8000"
    player = f"{vetrina}/embed/{video_id}?origin={DEMO_SHOP_SITE}"
    (site / "index.html").write_text(
        "<!doctype html><title>Vetrina Demo Shop</title><h1>Vetrina Demo Shop: our summer film</h1>"
        f'<iframe src="{html.escape(player)}" width="960" height="640" allow="autoplay; fullscreen"></iframe>\n'
        '<p><a href="widget.html">All our videos, with our own cart</a></p>\n'
    )
    (site / "widget.html").write_text(
        _DEMO_WIDGET_PAGE.format(script=html.escape(f"{vetrina}/static/widget.js"), handle=handle)
    )
    print(f"  the shop's own site sells inside its frame: python3 -m http.server 8080 -d {site}, then {DEMO_SHOP_SITE}")


# The shop's own site with the shoppable widget (docs/widget.md), taking purchases into the page's own cart.
_DEMO_WIDGET_PAGE = """<!doctype html><meta charset="utf-8"><title>Vetrina Demo Shop: our videos</title>
<h1>Vetrina Demo Shop: our videos</h1>
<script src="{script}" data-channel="{handle}" data-cart="host" async style="display:block;height:200px"></script>
<h2>Our own cart</h2><ul id="cart"><li>Press Buy on a product in a video.</li></ul>
<script>
document.addEventListener("vetrina:add_to_cart", (event) => {{
  const item = document.createElement("li"), product = event.detail.product;
  item.textContent = product.title + " (" + product.price / 100 + " " + product.currency + ")";
  document.getElementById("cart").append(item);
}});
</script>
"""


def _simulate_audience(ctx: Context, merchant: User, viewers: int = 60) -> None:
    """A seeded audience for the first film, sent through the same intake as the player's events (once): they
    drop off as it plays, see the cards, and some click and buy, so `/videos/1/analytics` and the dashboards
    have something to show."""
    from vetrina.analytics import intake, rollups

    video_id = _existing_film(ctx, merchant, DEMO_FILMS[0].title)
    with ctx.db.session(write=True) as session:
        if video_id is None or session.scalar(select(PlayerEvent.id).where(PlayerEvent.video_id == video_id)):
            return
        tags = shoppable.list_tags(session, video_id, merchant)
        rng = random.Random(7)  # noqa: S311  (demo data)
        for n in range(viewers):
            stays = min(DEMO_FILMS[0].seconds - 0.5, rng.expovariate(1 / 14))
            events: list[tuple[str, float, int | None, int | None]] = [("play", 0.0, None, None)]
            events += [("progress", float(t), None, None) for t in range(5, int(stays), 5)]
            events.append(("pause", stays, None, None))  # where they left
            for tag in tags:
                if tag.start_s < stays:
                    events.append(("card_shown", tag.start_s, tag.product_id, tag.id))
                    appeal = 0.45 if tag.product_id == tags[1].product_id else 0.2  # the mug sells best
                    if rng.random() < appeal:
                        at = tag.start_s + rng.uniform(0.5, 3)
                        events.append(("card_clicked", at, tag.product_id, tag.id))
                        if rng.random() < 0.5:
                            events += [
                                ("buy_started", at + 1, tag.product_id, tag.id),
                                ("purchase", at + 2, tag.product_id, tag.id),
                            ]
            batch = [
                intake.EventIn(
                    client_event_id=f"demo-{n}-{i}",
                    type=kind,
                    video_id=video_id,
                    second=second,
                    product_id=product_id,
                    tag_id=tag_id,
                )
                for i, (kind, second, product_id, tag_id) in enumerate(events)
            ]
            intake.record_events(session, f"demo-viewer-{n}", batch, rng.choice(["IT", "FR", "DE", "CN"]))
    rollups.roll_up_new(ctx.db)  # at once, rather than at the next minute's run
    print(f"  a simulated audience watched the first film: /videos/{video_id}/analytics and /dashboard")


def _run_demo_campaigns(ctx: Context, merchant: User) -> None:
    """The shop advertises: its studio spot as a pre-roll and a mid-roll (HLS interstitials in the film's playlist; the
    mid-roll also a SCTE-35 cue) and its mug as an overlay card on "Colour Drift", where the mug is also tagged."""
    with ctx.db.session(write=True) as session:
        if ad_campaigns.list_campaigns(session, merchant):
            return
        film = _existing_film(ctx, merchant, DEMO_FILMS[1].title)
        spot = next((s.video_id for s in studio.list_spots(session, merchant) if s.video_id), None)
        mug = next(
            (
                p
                for p in catalog.list_products(session, 1, 100, merchant_id=merchant.id, viewer=merchant).items
                if p.title == "Ceramic mug"
            ),
            None,
        )
        if film is None or spot is None or mug is None:
            return
        session.merge(
            VideoAdSettings(
                video_id=film,
                preroll=True,
                midrolls_s=[12.0],
                overlays_s=[6.0],
                floor_cpm=0,
                currency=ctx.settings.default_currency,
            )
        )
        mug_moment = shoppable.TagSpec(product_id=mug.id, start_s=14.0, end_s=20.0, label=mug.title)
        shoppable.create_tag(ctx, session, film, merchant, mug_moment)
        currency, now = ctx.settings.default_currency, clock.now()
        common: dict[str, Any] = {
            "budget_total": Money(1000, currency),
            "budget_daily": Money(300, currency),
            "starts_at": now - timedelta(hours=1),
            "ends_at": now + timedelta(days=90),
        }
        specs = [
            ad_campaigns.CampaignSpec(
                name="The collection (pre-roll)",
                kind="linear",
                bid_model="cpm",
                bid=Money(800, currency),
                video_id=spot,
                **common,
            ),
            ad_campaigns.CampaignSpec(
                name="Ceramic mug (overlay card)",
                kind="overlay",
                bid_model="cpc",
                bid=Money(30, currency),
                product_id=mug.id,
                **common,
            ),
        ]
        for spec in specs:
            campaign = ad_campaigns.create_campaign(ctx, session, merchant, spec)
            ad_campaigns.update_campaign(ctx, session, campaign.id, merchant, {"status": "active"})


LOOKBOOK_TITLE = "Lookbook: find the products (auto-tagging)"


def _make_lookbook(ctx: Context, merchant: User) -> None:
    """A film with the shop's products on screen, untagged, and an auto-tagging run that proposes its tags
    (accept them at /videos/{id}/tags). Only once."""
    if _existing_film(ctx, merchant, LOOKBOOK_TITLE) is not None:
        return
    with ctx.db.session() as session:
        products = sorted(
            catalog.list_products(session, 1, 100, merchant_id=merchant.id, viewer=merchant).items, key=lambda p: p.id
        )[:3]
        photos = []
        for product in products:
            with ctx.store.local_copy(f"{product.images[0].key}/large.jpg") as path, Image.open(path) as photo:
                photos.append(photo.convert("RGB"))
    scenes = [
        (5.0, [Appearance(0, 0.5, 4.5, (0.35, 0.5), (0.03, 0.0), 0.42, angle=8)]),
        (
            5.0,
            [
                Appearance(1, 0.4, 4.6, (0.72, 0.5), (-0.02, 0.01), 0.4, tilt=0.1),
                Appearance(2, 0.8, 4.2, (0.27, 0.5), (0.0, -0.02), 0.5),
            ],
        ),
        (4.0, [Appearance(0, 0.3, 3.7, (0.6, 0.5), (-0.03, 0.0), 0.5, angle=-5)]),
    ]
    scratch = ctx.store.scratch_dir("demo-lookbook")
    try:
        source = scratch / "lookbook.mp4"
        make_footage(source, photos, scenes, (1280, 720), seed=11)
        with ctx.db.session() as session:
            video = media.create_video(
                ctx,
                session,
                merchant,
                title=LOOKBOOK_TITLE,
                description="The shop's products on screen, found by auto-tagging: accept or reject its proposals.",
                upload=source,
                filename="lookbook.mp4",
            )
            session.flush()
            video_id = video.id
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ctx.queue.start_in_process()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn()) as bar:
            _wait_until_ready(ctx, {video_id: bar.add_task(f"stream  {LOOKBOOK_TITLE}", total=1.0)}, bar)
            with ctx.db.session() as session:
                run = autotag.start_run(ctx, session, video_id, merchant, None)
                session.flush()
                run_id = run.id

            def run_state(session: Session) -> tuple[float, str | None]:
                run = session.get_one(AutotagRun, run_id)
                if run.status not in ("done", "failed"):
                    return run.progress, None
                return 1.0, f"{run.proposals} tag proposals" if run.status == "done" else run.error

            outcome = _follow(ctx, bar, "find    the shop's products in the lookbook", run_state)
            bar.console.print(f"  auto-tagging the lookbook: {outcome} (accept them at /videos/{video_id}/tags)")
    finally:
        ctx.queue.stop_in_process()


DEMO_SPOT_HEADLINE = "Made by hand, made to last"


def _make_demo_spot(ctx: Context, merchant: User) -> None:
    """A spot made in the studio from the shop's photos, with music and a banner for the channel (only once)."""
    with ctx.db.session() as session:
        if any(s.spec["headline"] == DEMO_SPOT_HEADLINE for s in studio.list_spots(session, merchant)):
            return
    scratch = ctx.store.scratch_dir("demo-studio")
    try:
        banner = scratch / "banner.png"
        _banner().save(banner)
        tune = _demo_tune(scratch / "tune.wav")
        colours = {"brand_color": "#7c2d12", "text_color": "#fff7ed"}
        with ctx.db.session(write=True) as session:
            channels.update_channel(session, DEMO_CHANNEL, merchant, colours)
            channels.set_banner(ctx, session, DEMO_CHANNEL, merchant, banner)
            music = studio_assets.add_music(ctx, session, merchant, tune, "demo-tune.wav")
            products = catalog.list_products(session, 1, 100, merchant_id=merchant.id, viewer=merchant).items
            request = studio.SpotRequest(
                template="showcase",
                duration_s=15,
                aspect="16:9",
                product_ids=[p.id for p in products][:3],
                headline=DEMO_SPOT_HEADLINE,
                lines=["Washed linen", "Hand-glazed stoneware", "Heavy canvas"],
                cta="Shop the collection",
                music_id=music.id,
                voiceover=True,
                show_price=False,
                title="Vetrina Demo Shop: the collection",
            )
            spot = studio.create_spot(ctx, session, merchant, request)
            session.flush()
            spot_id = spot.id
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ctx.queue.start_in_process()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn()) as bar:

            def spot_state(session: Session) -> tuple[float, str | None]:
                state = studio.spot_state(session, session.get_one(Spot, spot_id))
                if state.status == "rendering":
                    return state.progress, None
                return 1.0, "ready" if state.status == "ready" else f"failed: {state.error}"

            outcome = _follow(ctx, bar, "studio  render and publish the demo spot", spot_state)
        if outcome != "ready":
            print(f"the demo spot {outcome}")
    finally:
        ctx.queue.stop_in_process()


def _demo_tune(path: Path, seconds: int = 8, rate: int = 22050) -> Path:
    """A few bars of a soft major arpeggio (C E G C, plucked), so the demo spot has music of its own."""
    notes = (261.63, 329.63, 392.0, 523.25)
    samples = array("h")
    for n in range(seconds * rate):
        t = n / rate
        beat = t * 4
        pluck = math.exp(-4 * (beat % 1))
        samples.append(int(9000 * pluck * math.sin(2 * math.pi * notes[int(beat) % 4] * t)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def _banner() -> Image.Image:
    """A warm gradient banner for the demo channel."""
    image = Image.new("RGB", (1600, 400))
    draw = ImageDraw.Draw(image)
    for x in range(1600):
        mix = x / 1599
        draw.line([(x, 0), (x, 399)], fill=(int(124 + 110 * mix), int(45 + 150 * mix), int(18 + 120 * mix)))
    return image


def _product_photo(spec: DemoProduct) -> Image.Image:
    """A studio-style product shot: a coloured object with a printed label on a soft backdrop.

    The label and pattern give auto-tagging detail to recognise (a plain shape has none)."""
    rng = random.Random(spec.title)  # noqa: S311  (a reproducible picture)
    image = Image.new("RGB", (1200, 1200), (236, 232, 226))
    draw = ImageDraw.Draw(image)
    draw.ellipse((250, 980, 950, 1080), fill=(210, 205, 198))
    draw.rounded_rectangle((330, 260, 870, 1010), radius=90, fill=spec.colour)
    for _ in range(28):
        x, y, r = rng.randrange(370, 800), rng.randrange(300, 940), rng.randrange(14, 48)
        shade = tuple(max(0, min(255, c + rng.randrange(-90, 90))) for c in spec.colour)
        draw.ellipse((x, y, x + r, y + r), fill=shade)
    draw.rectangle((380, 520, 820, 700), fill=(250, 248, 242), outline=(30, 30, 30), width=4)
    font = ImageFont.truetype(FONT, 54)
    draw.text((600, 575), spec.title.upper(), font=font, fill=(25, 25, 25), anchor="mm")
    draw.text((600, 650), "VETRINA DEMO", font=ImageFont.truetype(FONT, 30), fill=(160, 30, 30), anchor="mm")
    return image


PARTNER_TITLES = (
    (
        "silk-road-express",
        "The Silk Road Express",
        "A night train across two territories, two distributors.",
        "mandelbrot=size=640x360:rate=25",
        "CN",
    ),
    (
        "harbour-lights",
        "Harbour Lights",
        "Licensed for a few European countries only (media:restriction).",
        "life=size=640x360:rate=25:mold=10:ratio=0.3",
        "IT FR DE ES",
    ),
)


def _import_partner_catalogue(ctx: Context, partner: User) -> None:
    """A studio's MRSS feed of two titles, imported like any partner's (`vetrina import`); the first is licensed
    to one distributor for mainland China and another for the rest of the world, the second carries a
    media:restriction. Re-running finds the feed unchanged."""
    from vetrina.partners import media_fetch, runs
    from vetrina.partners import service as partners
    from vetrina.rights import service as rights

    folder = ctx.settings.data_dir / "demo-feed"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for guid, title, description, source, countries in PARTNER_TITLES:
        clip = folder / f"{guid}.mp4"
        if not clip.exists():
            run_ffmpeg(
                [
                    "-f",
                    "lavfi",
                    "-i",
                    source,
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=262:sample_rate=48000:duration=10",
                    "-t",
                    "10",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-shortest",
                    str(clip),
                ]
            )
        restriction = (
            ""
            if guid == "silk-road-express"
            else (f'<media:restriction relationship="allow" type="country">{countries}</media:restriction>')
        )
        items.append(f"""<item><guid isPermaLink="false">{guid}</guid><title>{title}</title>
  <media:group><media:content url="{clip.name}" type="video/mp4" width="640" height="360" isDefault="true"/>
  </media:group>
  <media:description>{description}</media:description><media:category>Drama</media:category>
  <media:keywords>demo, partner</media:keywords><media:rating scheme="urn:simple">nonadult</media:rating>
  {restriction}</item>""")
    feed_file = folder / "feed.xml"
    feed_file.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Demo Studio</title>\n'
        + "\n".join(items)
        + "\n</channel></rss>\n"
    )
    with ctx.db.session(write=True) as session:
        feed = partners.create_feed(
            session,
            session.merge(partner),
            name="Demo Studio catalogue",
            source=str(feed_file.resolve()),
            local_ok=True,
        )
        run_id, feed_id = runs.start_run(ctx, session, feed, "cli", fetch_media=False, for_worker=False).id, feed.id
    run = runs.run_import(ctx, run_id)
    media_fetch.fetch_media(ctx, feed_id)
    print(f"the partner feed: {run.created} created, {run.unchanged} unchanged, {run.failed} failed" if run else "")
    with ctx.db.session() as session:
        video_ids = [
            video_id
            for video_id in session.scalars(
                select(FeedItem.video_id).where(FeedItem.feed_id == feed_id, FeedItem.video_id.is_not(None))
            )
            if video_id is not None  # (the query leaves None out already)
        ]
    ctx.queue.start_in_process()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn()) as bar:
            _wait_until_ready(ctx, {v: bar.add_task(f"stream  partner title {v}", total=1.0) for v in video_ids}, bar)
    finally:
        ctx.queue.stop_in_process()
    with ctx.db.session(write=True) as session:
        first = session.scalar(
            select(FeedItem.video_id).where(FeedItem.feed_id == feed_id, FeedItem.guid == PARTNER_TITLES[0][0])
        )
        if first is not None and not rights.list_licences(session, session.merge(partner), first):
            now = clock.now().replace(microsecond=0)
            for distributor, territories in (("Dragon Pictures", ["CN"]), ("Globe Films", ["rest of world"])):
                rights.create_licence(
                    ctx,
                    session,
                    session.merge(partner),
                    first,
                    distributor=distributor,
                    territories=territories,
                    starts_at=now - timedelta(days=1),
                    ends_at=now + timedelta(days=365),
                    uses=["stream", "ads", "commerce"],
                    share_bps=3000,
                )
    print(
        "  the partner desk: /partner (studio@vetrina.demo); a title plays under Globe Films here, under Dragon "
        "Pictures from China (send CF-IPCountry: CN)"
    )


def _existing_film(ctx: Context, owner: User, title: str) -> int | None:
    with ctx.db.session() as session:
        return session.scalar(
            select(Video.id).where(
                Video.owner_id == owner.id, Video.title == title, Video.status != VideoStatus.failed.value
            )
        )


def _advance(bar: Progress, task: TaskID) -> Callable[[float], None]:
    """A progress callback that moves `task` on `bar` to the seconds done."""
    return lambda done_s: bar.update(task, completed=done_s)


def _add_film(ctx: Context, owner: User, film: DemoFilm, on_progress: Callable[[float], None]) -> int:
    scratch = ctx.store.scratch_dir(f"demo-{film.seconds}-{abs(hash(film.title))}")
    source = scratch / "source.mp4"
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"{film.video_source}:duration={film.seconds}",
            "-f",
            "lavfi",
            "-i",
            f"{film.audio_source}:duration={film.seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(source),
        ],
        on_progress=on_progress,
    )
    with ctx.db.session() as session:
        video = media.create_video(
            ctx, session, owner, title=film.title, description=film.description, upload=source, filename="source.mp4"
        )
        session.flush()
        video_id = video.id
    scratch.rmdir()
    return video_id


def _follow(ctx: Context, bar: Progress, label: str, state: Callable[[Session], tuple[float, str | None]]) -> str:
    """Show background work's progress until `state` reports an outcome; returns it."""
    task = bar.add_task(label, total=1.0)
    while True:
        with ctx.db.session() as session:
            progress, outcome = state(session)
        bar.update(task, completed=progress)
        if outcome is not None:
            return outcome
        time.sleep(0.5)


def _wait_until_ready(ctx: Context, tasks: dict[int, TaskID], progress: Progress) -> None:
    waiting = set(tasks)
    while waiting:
        with ctx.db.session() as session:
            for video in session.scalars(select(Video).where(Video.id.in_(waiting))):
                progress.update(tasks[video.id], completed=video.progress)
                if video.status != VideoStatus.processing:
                    waiting.discard(video.id)
                    if video.status == VideoStatus.failed:
                        progress.console.print(f"[red]{video.title} failed: {video.error}")
        time.sleep(0.5)
