"""The authorization matrix (issue 16): every route the app serves, asked by anonymous, a viewer, another
merchant, another buyer, a partner, the buyer, the owner and an admin, each answer checked against the class of
outcome declared once in TABLE. The routes come from the app's own route table: a new route fails the test until
it has a row.

Classes: ok (2xx, or a redirect elsewhere than the sign-in page); allowed (let in: ok, or 409/422 when the state
or the minimal body says no); login (sent to sign in); hidden (404, or for a form the very answer an unknown id
gets: "not yours" is "does not exist"); msg:TEXT (a form refused by going back with a message holding TEXT); or a
status code. Nobody ever gets a 5xx."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.ads.helpers import linear
from tests.helpers import PASSWORD
from tests.studio.helpers import photo_bytes, spot_body
from tests.web.authz_helpers import ROLES, UNKNOWN_ID, Call, app_routes, build_world, fill, form_message, outcome, send
from tests.web.helpers import app_with
from vetrina.web.app import create_app

# What each class accepts of the outcomes `outcome()` names ("hidden" is also checked against an unknown id).
# "msg:TEXT": a form refused by going back with a message that holds TEXT.
CLASSES = {
    "ok": {"ok"},
    "allowed": {"ok", "409", "422"},
    "login": {"login"},
    "hidden": {"404"},
}


def cells(default: str, **by_role: str) -> dict[str, str]:
    unknown = set(by_role) - set(ROLES)
    assert not unknown, unknown
    return {role: by_role.get(role, default) for role in ROLES}


# Rows that read or change nothing private: anyone, signed in or not.
PUBLIC = cells("ok")
# Each account's own things (its wallet, its tokens, its lists): any account, nobody signed out.
ACCOUNT = cells("ok", anonymous="401")
# The owner's private object: everyone else is answered as for an id that does not exist; the operator oversees.
OWNER = cells("hidden", anonymous="401", owner="ok", admin="ok")
# The owner's public object (a video, a product, a channel): its existence is no secret, changing it is refused.
OWNER_PUBLIC = cells("403", anonymous="401", owner="ok", admin="ok")
# Things only merchants (and the operator) make, each for itself.
MERCHANTS = cells("403", anonymous="401", owner="allowed", other_merchant="allowed", admin="allowed")
# A form of merchants' that goes back with why it refused.
NOT_A_MERCHANT = "msg:Only merchants"
# The operator's.
ADMIN = cells("403", anonymous="401", admin="allowed")
# The buyer's order, seen by its buyer and by the merchant who sells it (and the operator).
ORDER = cells("hidden", anonymous="401", owner="ok", buyer="ok", admin="ok")
# What only the order's buyer does to it; its merchant and the operator see it, so are refused, not hidden.
BUYER_STEP = cells("hidden", anonymous="401", buyer="allowed", owner="403", admin="403")
# What only the order's merchant does.
MERCHANT_STEP = cells("hidden", anonymous="401", buyer="403", owner="allowed", admin="403")
# The partner's feed (merchants and the operator import feeds too).
FEED = cells("hidden", anonymous="401", partner="allowed", admin="allowed")
# Payouts are merchants' (the operator pays them out, it asks for none).
PAYOUTS = cells("403", anonymous="401", owner="allowed", other_merchant="allowed")


class Row:
    """One route's expected outcome per role, the request that asks it, and the objects its parameters name."""

    def __init__(self, expect: dict[str, str], last: bool = False, names: dict[str, str] | None = None, **call: Any):
        self.expect, self.last, self.names, self.call = expect, last, names or {}, Call(**call)

    def but(self, **by_role: str) -> Row:
        """The same row with some roles' outcomes changed."""
        self.expect = {**self.expect, **by_role}
        return self


def row(expect: dict[str, str], **kwargs: Any) -> Row:
    return Row(dict(expect), **kwargs)


IMAGE = {"file": ("p.jpg", photo_bytes((60, 120, 200)), "image/jpeg")}
CLIP = {"file": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")}
SUBTITLES = {"file": ("s.vtt", b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n", "text/vtt")}
EUR = {"amount": 1000, "currency": "EUR"}
FEED_RUN = {"run_id": "feed_run_id"}
SPOT = spot_body(0, product_ids=["{product_id}"])
LICENCE = {
    "video_id": "{video_id}",
    "distributor": "Dist",
    "territories": ["DE"],
    "starts_at": "2020-01-01T00:00:00Z",
    "ends_at": "2040-01-01T00:00:00Z",
}
AUTOTAG_RUN = {"run_id": "autotag_run_id"}

TABLE: dict[tuple[str, str], Row] = {
    # The app's machinery and public reads.
    ("GET", "/openapi.json"): row(PUBLIC),
    ("GET", "/docs"): row(PUBLIC),
    ("GET", "/docs/oauth2-redirect"): row(PUBLIC),
    ("GET", "/redoc"): row(PUBLIC),
    ("GET", "/healthz"): row(PUBLIC),
    ("GET", "/metrics"): row(cells("403", admin="ok")),  # the operator's, or a scraper on loopback
    ("GET", "/api/v1/whereami"): row(PUBLIC),
    ("GET", "/static/{path:path}"): row(PUBLIC, names={"path": "static_file"}),
    ("GET", "/static/vendor/uplot/{path:path}"): row(cells("404"), names={"path": "static_file"}),  # uPlot's
    ("GET", "/static/vendor/{path:path}"): row(cells("404"), names={"path": "static_file"}),  # hls.js's, not ours
    # Media is served to signed links only; a forged one is refused to everyone alike.
    ("GET", "/media/{token}/{key:path}"): row(cells("403"), names={"token": "decision_id", "key": "static_file"}),
    ("GET", "/"): row(PUBLIC),
    ("GET", "/watch/{video_id}"): row(PUBLIC),
    ("GET", "/embed/{video_id}"): row(PUBLIC),
    # What crawlers and other sites read (vetrina.discovery): public, a video's poster as public as the video.
    ("GET", "/watch/{video_id}/poster.jpg"): row(PUBLIC),
    ("GET", "/robots.txt"): row(PUBLIC),
    ("GET", "/sitemap-videos.xml"): row(PUBLIC),
    ("GET", "/oembed"): row(PUBLIC, params={"url": "http://testserver/watch/{video_id}"}),
    ("GET", "/c/{handle}"): row(PUBLIC),
    ("GET", "/p/{product_id}"): row(PUBLIC),
    ("GET", "/api/v1/channels/{handle}"): row(PUBLIC),
    ("GET", "/api/v1/channels/{handle}/videos"): row(PUBLIC),
    ("GET", "/api/v1/videos"): row(PUBLIC),
    ("GET", "/api/v1/videos/{video_id}"): row(PUBLIC),
    ("GET", "/api/v1/videos/{video_id}/tags"): row(PUBLIC),
    ("GET", "/api/v1/videos/{video_id}/tags/{tag_id}"): row(PUBLIC),
    ("GET", "/api/v1/videos/{video_id}/timeline"): row(PUBLIC),
    ("GET", "/api/v1/videos/{video_id}/vmap"): row(PUBLIC),
    ("GET", "/api/v1/videos/{video_id}/subtitles"): row(PUBLIC),  # (before the licence row makes it a DE title)
    ("GET", "/api/v1/products"): row(PUBLIC),
    ("GET", "/api/v1/merchants/{merchant_id}/products"): row(PUBLIC, names={"merchant_id": "owner_id"}),
    ("GET", "/api/v1/products/{product_id}"): row(PUBLIC),
    ("GET", "/api/v1/products/{product_id}/card"): row(PUBLIC),
    ("GET", "/api/v1/studio/templates"): row(PUBLIC),
    ("GET", "/api/v1/ads/vast"): row(PUBLIC, params={"video_id": "{video_id}"}),
    ("GET", "/api/v1/ads/interstitials"): row(PUBLIC, params={"video_id": "{video_id}"}),
    # Ad beacons name a served decision; an unknown one is a 404 for everyone.
    ("GET", "/api/v1/ads/events/{decision_id}/{event}"): row(cells("404"), names={"event": "ad_event"}),
    ("GET", "/api/v1/ads/click/{decision_id}"): row(cells("404")),
    ("GET", "/api/v1/ads/assets/{decision_id}"): row(cells("404")),
    # The overlay ad's SIMID creative, named by a served decision like the beacons: an unknown one is a 404.
    ("GET", "/simid/overlay/{decision_id}"): row(cells("404")),
    # Live shows are public (never their keys); the RTMP server's callbacks are not there for anyone without the
    # secret its config carries.
    ("GET", "/api/v1/live"): row(PUBLIC),
    ("GET", "/api/v1/live/{show_id}"): row(PUBLIC),
    ("GET", "/live/{show_id}"): row(PUBLIC),
    ("GET", "/live/{show_id}/host"): row(cells("403", anonymous="login", owner="ok", admin="ok")),
    ("GET", "/api/v1/live/{show_id}/pins"): row(PUBLIC),
    ("GET", "/api/v1/flash-sales/{sale_id}"): row(cells("404"), names={"sale_id": "show_id"}),  # public; none yet
    ("GET", "/api/v1/live/{show_id}/events"): row(PUBLIC),  # a show not on air: its backlog, then the stream ends
    ("GET", "/api/v1/live/{show_id}/analytics"): row(OWNER_PUBLIC),  # what sold when is the host's
    # A partner's show asks merchants for consent; the world's show is a merchant's own, which asks nobody.
    ("GET", "/api/v1/live-consents"): row(ACCOUNT),
    ("PUT", "/api/v1/live/{show_id}/consent"): row(cells("hidden", anonymous="401"), json={"accept": True}),
    ("POST", "/merchant/live/{show_id}/consent"): row(
        cells("msg:No live show", anonymous="401"), data={"accept": "yes"}
    ),
    # Anyone signed in talks and reacts (the world's show is not on air yet: a 409 for reactions).
    ("POST", "/api/v1/live/{show_id}/chat"): row(cells("allowed", anonymous="401"), json={"text": "Hello"}),
    ("POST", "/api/v1/live/{show_id}/reactions"): row(cells("allowed", anonymous="401"), json={"kind": "heart"}),
    **{
        ("POST", f"/rtmp/{{secret}}/{callback}"): row(
            cells("404"), names={"secret": "rtmp_secret"}, data={"call": "publish", "name": "live_x"}
        )
        for callback in ("on_publish", "on_play", "on_update", "on_publish_done")
    },
    ("POST", "/api/v1/events"): row(
        cells("allowed"), json={"viewer": "v-1", "events": [{"type": "play", "video_id": "{video_id}"}]}
    ),
    # Signing in (with a wrong password), up (with a bad address) and out.
    ("GET", "/login"): row(PUBLIC),
    ("POST", "/login"): row(cells("401"), data={"email": "nobody@example.com", "password": "wrong", "next": "/"}),
    ("POST", "/api/v1/session"): row(
        cells("401"), browser=True, json={"email": "nobody@example.com", "password": "wrong password"}
    ),
    # Signing in inside a frame, for a site nobody allowed to sell in frames (tests/web/test_selling_frames.py has
    # the sites that may); signing out there is only for a sign-in made in a frame.
    ("POST", "/api/v1/embed/session"): row(
        cells("403"),
        headers={"X-Vetrina-Embed-Origin": "https://shop.example"},
        json={"email": "nobody@example.com", "password": "wrong password", "video_id": "{video_id}"},
    ),
    ("DELETE", "/api/v1/embed/session"): row(cells("403", anonymous="401")),
    ("GET", "/signup"): row(PUBLIC),
    ("POST", "/signup"): row(cells("422"), data={"email": "x", "password": "short", "role": "viewer"}),
    # Each account's own things.
    ("GET", "/api/v1/me/channel"): row(cells("403", anonymous="401", owner="ok", other_merchant="ok", admin="ok")),
    ("GET", "/api/v1/wallet"): row(ACCOUNT),
    ("GET", "/api/v1/wallet/topups"): row(ACCOUNT),
    ("POST", "/api/v1/wallet/topups"): row(ACCOUNT, json={"amount": 500, "currency": "EUR"}),
    ("GET", "/api/v1/orders"): row(ACCOUNT),
    # A merchant may not buy its own product.
    ("POST", "/api/v1/orders"): row(ACCOUNT, json={"items": [{"product_id": "{product_id}", "quantity": 1}]}).but(
        owner="422"
    ),
    ("GET", "/api/v1/tokens"): row(ACCOUNT),
    ("POST", "/api/v1/tokens"): row(ACCOUNT, browser=True, json={"name": "ci"}),
    ("GET", "/api/v1/payouts"): row(PAYOUTS).but(admin="ok"),  # the operator sees every payout
    ("GET", "/api/v1/payouts/account"): row(PAYOUTS),
    ("PUT", "/api/v1/payouts/account"): row(PAYOUTS, json={"bank_details": "IBAN DE89 3704 0044 0532 0130 00"}),
    ("POST", "/api/v1/payouts"): row(PAYOUTS, json={"amount": EUR}),
    ("GET", "/api/v1/webhooks"): row(ACCOUNT),
    ("POST", "/api/v1/webhooks"): row(MERCHANTS, json={"url": "https://93.184.215.14/other"}),
    ("GET", "/api/v1/campaigns"): row(ACCOUNT),
    ("GET", "/api/v1/licences"): row(ACCOUNT),
    ("GET", "/api/v1/revenue-share"): row(ACCOUNT),
    ("GET", "/api/v1/partners/feeds"): row(ACCOUNT),
    ("GET", "/api/v1/studio/images"): row(ACCOUNT),
    ("GET", "/api/v1/studio/music"): row(ACCOUNT),
    ("GET", "/api/v1/studio/spots"): row(ACCOUNT),
    ("GET", "/wallet"): row(ACCOUNT),
    ("POST", "/wallet/topups"): row(ACCOUNT, data={"amount": "5.00", "provider": "sandbox", "currency": "EUR"}),
    ("GET", "/orders"): row(ACCOUNT),
    ("GET", "/account"): row(ACCOUNT).but(anonymous="login"),
    ("GET", "/api/v1/me"): row(ACCOUNT),
    ("PATCH", "/api/v1/me"): row(ACCOUNT, last=True, json={"language": "it"}),  # later answers in Italian
    ("POST", "/language"): row(PUBLIC, last=True, data={"language": "it", "next": "/"}),
    ("POST", "/account/tokens"): row(ACCOUNT, data={"name": "laptop", "expires_in_days": "30"}),
    ("GET", "/payouts"): row(PAYOUTS),
    ("POST", "/payouts"): row(PAYOUTS, data={"amount": "1.00", "currency": "EUR"}),
    ("POST", "/payouts/account"): row(PAYOUTS, data={"bank_details": "IBAN DE89 3704 0044 0532 0130 00"}),
    ("GET", "/dashboard"): row(cells("ok", anonymous="login", viewer="403", other_buyer="403", buyer="403")),
    ("GET", "/dashboard/{board}/{table}.csv"): row(
        cells("403", anonymous="401", owner="ok", other_merchant="ok"), names={"board": "board", "table": "table"}
    ),
    # Merchants' making.
    ("POST", "/api/v1/videos"): row(MERCHANTS, data={"title": "Clip"}, files=CLIP).but(
        owner="415",
        other_merchant="415",
        admin="415",
        partner="415",  # partners upload their titles too
    ),
    ("GET", "/upload"): row(MERCHANTS).but(
        anonymous="login", owner="ok", other_merchant="ok", admin="ok", partner="ok"
    ),
    ("POST", "/upload"): row(MERCHANTS, data={"title": "Clip"}, files=CLIP).but(
        anonymous="login", owner="415", other_merchant="415", admin="415", partner="415"
    ),
    ("POST", "/api/v1/products"): row(MERCHANTS, json={"title": "Scarf", "price": EUR}),
    ("GET", "/merchant"): row(cells("403", anonymous="401", owner="ok", other_merchant="ok", admin="ok")),
    ("POST", "/merchant/products"): row(
        cells(NOT_A_MERCHANT, anonymous="401", owner="ok", other_merchant="ok", admin="ok"),
        data={"title": "Scarf", "price": "10.00"},
    ),
    # Another merchant's product named in the form.
    ("POST", "/merchant/products#edit"): row(
        cells("msg:Only the product's merchant", anonymous="401", owner="ok", admin="ok"),
        data={"title": "Scarf", "price": "10.00", "product_id": "{product_id}"},
    ),
    ("POST", "/merchant/channel"): row(
        cells(NOT_A_MERCHANT, anonymous="401", owner="ok", other_merchant="ok", admin="ok"), data={"name": "Shop"}
    ),
    ("POST", "/merchant/channel/banner"): row(
        cells("403", anonymous="401", owner="ok", other_merchant="ok", admin="ok"), files=IMAGE
    ),
    # A linear campaign on another merchant's video is refused.
    ("POST", "/api/v1/campaigns"): row(MERCHANTS, json=linear("{video_id}")).but(other_merchant="403"),
    ("GET", "/merchant/campaigns"): row(cells("403", anonymous="login", owner="ok", other_merchant="ok", admin="ok")),
    ("POST", "/merchant/campaigns"): row(
        cells("403", anonymous="401", owner="ok", other_merchant="msg:one of your", admin="ok"),
        data={
            "name": "Spot",
            "creative": "video:{video_id}",
            "bid": "10.00",
            "budget_total": "100.00",
            "budget_daily": "10.00",
        },
    ),
    # Licensing another merchant's title is refused.
    ("POST", "/api/v1/licences"): row(MERCHANTS, json=LICENCE).but(other_merchant="403"),
    ("POST", "/api/v1/live"): row(MERCHANTS, json={"title": "Live"}).but(partner="allowed", admin="403"),
    ("GET", "/studio"): row(cells("403", anonymous="login", owner="ok", other_merchant="ok", admin="ok")),
    ("POST", "/api/v1/studio/images"): row(MERCHANTS, files=IMAGE),
    ("POST", "/api/v1/studio/music"): row(MERCHANTS, files={"file": ("m.mp3", b"ID3", "audio/mpeg")}).but(
        owner="415", other_merchant="415", admin="415"
    ),
    # A spot of another merchant's products: its products are not found.
    ("POST", "/api/v1/studio/previews"): row(MERCHANTS, json=SPOT).but(other_merchant="404"),
    ("POST", "/api/v1/studio/spots"): row(MERCHANTS, json=SPOT).but(other_merchant="404"),
    # The owner's videos, products, channel, tags, campaigns, licences, spots, webhooks, tokens.
    ("PATCH", "/api/v1/videos/{video_id}"): row(OWNER_PUBLIC, json={"description": "Spring"}),
    # A video's subtitles, added or replaced by its owner (and the operator).
    ("POST", "/api/v1/videos/{video_id}/subtitles"): row(OWNER_PUBLIC, data={"language": "en"}, files=SUBTITLES),
    # A product may be unpublished: writes to another's are answered as for an unknown one.
    ("PATCH", "/api/v1/products/{product_id}"): row(OWNER, json={"description": "Linen"}),
    ("POST", "/api/v1/products/{product_id}/images"): row(OWNER, files=IMAGE),
    ("POST", "/merchant/products/{product_id}/images"): row(OWNER, files=IMAGE),
    ("PATCH", "/api/v1/channels/{handle}"): row(OWNER_PUBLIC, json={"description": "Hello"}),
    ("POST", "/api/v1/channels/{handle}/banner"): row(OWNER_PUBLIC, files=IMAGE),
    ("POST", "/api/v1/channels/{handle}/follow"): row(ACCOUNT),
    ("DELETE", "/api/v1/channels/{handle}/follow"): row(ACCOUNT),
    ("POST", "/c/{handle}/follow"): row(cells("ok", anonymous="login")),
    # Tagging: another's product in the owner's video is not found (the owner tags only its own products).
    ("POST", "/api/v1/videos/{video_id}/tags"): row(
        OWNER, json={"product_id": "{product_id}", "start_s": 6, "end_s": 9}
    ),
    ("PATCH", "/api/v1/videos/{video_id}/tags/{tag_id}"): row(OWNER_PUBLIC, json={"label": "Shirt"}),
    # The tag editor: other merchants tag their own products where the owner allows it; proposals are per asker.
    ("GET", "/videos/{video_id}/tags"): row(ACCOUNT).but(anonymous="login"),
    ("GET", "/api/v1/videos/{video_id}/tag-proposals"): row(ACCOUNT),
    ("POST", "/api/v1/videos/{video_id}/autotag"): row(OWNER_PUBLIC, json={}),
    ("POST", "/videos/{video_id}/autotag"): row(
        cells("msg:Only the video's owner", anonymous="401", owner="ok", admin="ok")
    ),
    ("GET", "/api/v1/videos/{video_id}/autotag/{run_id}"): row(OWNER, names=AUTOTAG_RUN),
    ("POST", "/api/v1/videos/{video_id}/tag-proposals/{proposal_id}/reject"): row(OWNER_PUBLIC, json={}).but(
        owner="allowed", admin="allowed"
    ),
    ("POST", "/api/v1/videos/{video_id}/tag-proposals/{proposal_id}/accept"): row(OWNER_PUBLIC, json={}).but(
        owner="allowed", admin="allowed"
    ),
    ("POST", "/videos/{video_id}/tag-proposals/{proposal_id}/{decision}"): row(
        cells("msg:Only whoever asked", anonymous="401", owner="ok", admin="ok"),
        names={"decision": "reject"},
        data={"start_s": "10", "end_s": "12"},
    ),
    ("PUT", "/api/v1/videos/{video_id}/ad-settings"): row(OWNER_PUBLIC, json={"preroll": True}),
    ("POST", "/videos/{video_id}/ad-settings"): row(
        cells("msg:Only the video's owner", anonymous="401", owner="ok", admin="ok"), data={"preroll": "true"}
    ),
    ("GET", "/videos/{video_id}/analytics"): row(OWNER_PUBLIC).but(anonymous="login"),
    ("GET", "/api/v1/videos/{video_id}/selling-seconds"): row(OWNER_PUBLIC),
    ("GET", "/api/v1/campaigns/{campaign_id}"): row(OWNER),
    ("PATCH", "/api/v1/campaigns/{campaign_id}"): row(OWNER, json={"name": "Renamed"}),
    ("GET", "/api/v1/campaigns/{campaign_id}/report"): row(OWNER),
    ("GET", "/merchant/campaigns/{campaign_id}"): row(OWNER).but(
        viewer="403",
        other_buyer="403",
        partner="403",
        buyer="403",  # "campaigns are for merchants"
    ),
    ("POST", "/merchant/campaigns/{campaign_id}/status"): row(OWNER, data={"status": "active"}).but(
        viewer="403", other_buyer="403", partner="403", buyer="403"
    ),
    ("GET", "/api/v1/licences/{licence_id}"): row(OWNER),
    ("GET", "/api/v1/studio/spots/{spot_id}"): row(OWNER),
    ("POST", "/api/v1/webhooks/{endpoint_id}/secret"): row(OWNER, json={}),
    ("GET", "/api/v1/webhooks/{endpoint_id}/deliveries"): row(OWNER),
    ("GET", "/api/v1/payouts/{payout_id}"): row(OWNER),
    # The buyer's orders, and the owner's side of them.
    ("GET", "/api/v1/orders/{order_id}"): row(ORDER),
    ("POST", "/api/v1/orders/{order_id}/pay"): row(BUYER_STEP, json={}, names={"order_id": "unpaid_order_id"}),
    ("POST", "/api/v1/orders/{order_id}/payments"): row(
        BUYER_STEP, json={"provider": "sandbox"}, names={"order_id": "payable_order_id"}
    ),
    ("POST", "/api/v1/orders/{order_id}/cancel"): row(BUYER_STEP, json={}, names={"order_id": "unpaid_order_id"}),
    ("POST", "/api/v1/orders/{order_id}/ship"): row(MERCHANT_STEP, json={"carrier": "DHL", "tracking": "JD1"}),
    ("POST", "/api/v1/orders/{order_id}/confirm"): row(BUYER_STEP, json={}),
    ("POST", "/api/v1/orders/{order_id}/refunds"): row(BUYER_STEP, json={"reason": "late"}),
    ("POST", "/api/v1/orders/{order_id}/refunds/{refund_id}/reject"): row(MERCHANT_STEP, json={"note": "no"}).but(
        admin="allowed"  # the operator settles disputes
    ),
    ("POST", "/api/v1/orders/{order_id}/refunds/{refund_id}/accept"): row(MERCHANT_STEP, json={}).but(admin="allowed"),
    ("POST", "/orders/{order_id}/pay-with"): row(
        cells(
            "hidden",
            anonymous="401",
            buyer="ok",
            owner="msg:Only the order's buyer",
            admin="msg:Only the order's buyer",
        ),
        data={"provider": "sandbox"},
        names={"order_id": "unpaid_order_id"},
    ),
    ("POST", "/orders/{order_id}/{action}"): row(
        cells(
            "hidden",
            anonymous="401",
            buyer="msg:Only the order's merchant",
            owner="ok",
            admin="msg:Only the order's merchant",
        ),
        names={"action": "order_action"},
        data={"carrier": "DHL", "tracking": "JD2"},
    ),
    ("GET", "/api/v1/payments/{payment_id}"): row(ORDER).but(owner="hidden"),  # the buyer's payment, not the shop's
    # A sandbox payment has no QR code: 404 for its buyer too.
    ("GET", "/api/v1/payments/{payment_id}/qr.svg"): row(ORDER).but(owner="hidden", buyer="404", admin="404"),
    # The sandbox records no provider payment for a top-up: the id is an unknown one here.
    ("GET", "/api/v1/wallet/topups/{payment_id}"): row(cells("404", anonymous="401"), names={"payment_id": "topup_id"}),
    ("POST", "/p/{product_id}/buy"): row(cells("ok", anonymous="login"), data={"quantity": "1"}),
    # Providers call these, signed, and only when configured (none is here).
    ("POST", "/api/v1/providers/alipay/notify"): row(cells("404"), data={"out_trade_no": "1"}),
    ("POST", "/api/v1/providers/stripe/webhook"): row(cells("404"), json={}),
    # The partner's feed.
    ("POST", "/api/v1/partners/feeds"): row(
        cells("403", anonymous="401", partner="ok", owner="ok", other_merchant="ok", admin="ok"),
        json={"name": "Mine", "url": "https://93.184.215.14/mine.xml"},
    ),
    ("GET", "/api/v1/partners/feeds/{feed_id}"): row(FEED),
    ("POST", "/api/v1/partners/feeds/{feed_id}/runs"): row(FEED, json={}),
    ("GET", "/api/v1/partners/feeds/{feed_id}/runs"): row(FEED),
    ("GET", "/api/v1/partners/feeds/{feed_id}/runs/{run_id}"): row(FEED, names=FEED_RUN),
    ("GET", "/api/v1/partners/feeds/{feed_id}/items"): row(FEED),
    ("GET", "/partner"): row(
        cells("403", anonymous="login", partner="ok", owner="ok", other_merchant="ok", admin="ok")
    ),
    ("POST", "/partner/feeds"): row(
        cells("403", anonymous="401", partner="ok", owner="ok", other_merchant="ok", admin="ok"),
        data={"name": "Mine", "url": "https://93.184.215.14/m.xml"},
    ),
    ("POST", "/partner/feeds/{feed_id}/runs"): row(FEED).but(viewer="403", other_buyer="403", buyer="403"),
    # The operator's.
    ("GET", "/api/v1/admin/ledger/check"): row(ADMIN),
    ("GET", "/api/v1/admin/reconciliation"): row(ADMIN),
    ("GET", "/admin/reconciliation"): row(ADMIN).but(anonymous="login"),
    ("POST", "/api/v1/admin/wallets/{user_id}/credits"): row(
        ADMIN, json={"amount": EUR, "reference": "goodwill"}, names={"user_id": "buyer_user_id"}
    ),
    ("GET", "/api/v1/admin/payouts.csv"): row(ADMIN),
    ("GET", "/admin/payouts"): row(ADMIN),
    ("POST", "/api/v1/admin/payouts/{payout_id}/failed"): row(ADMIN, json={"reason": "closed"}),
    ("POST", "/api/v1/admin/payouts/{payout_id}/paid"): row(ADMIN, json={"reference": "T1"}),
    ("POST", "/admin/payouts/{payout_id}/paid"): row(ADMIN, data={"reference": "T1"}),
    ("POST", "/admin/payouts/{payout_id}/failed"): row(ADMIN, data={"reason": "closed"}),
    # Last: what deletes, revokes or signs out (the operator, after the owner, finds it gone).
    ("DELETE", "/api/v1/videos/{video_id}/tags/{tag_id}"): row(OWNER_PUBLIC, last=True).but(admin="404"),
    ("DELETE", "/api/v1/products/{product_id}/images/{image_id}"): row(OWNER, last=True).but(admin="404"),
    ("DELETE", "/api/v1/webhooks/{endpoint_id}"): row(OWNER, last=True).but(admin="404"),
    ("DELETE", "/api/v1/licences/{licence_id}"): row(OWNER, last=True).but(admin="404"),
    # A host's show: public, so others are refused rather than hidden; ended last (a new key is then a 409).
    ("POST", "/api/v1/live/{show_id}/stream-key"): row(OWNER_PUBLIC),
    ("POST", "/api/v1/live/{show_id}/flash-sales"): row(
        OWNER_PUBLIC,
        json={"product_id": "{product_id}", "price": EUR, "quantity": 1, "seconds": 60},
    ).but(owner="allowed", admin="403"),  # not on air: 409; only the host sells its stock
    ("POST", "/api/v1/live/{show_id}/flash-sales/{sale_id}/end"): row(
        OWNER_PUBLIC,
        names={"sale_id": "show_id"},  # no such sale in the show: the host learns so, nobody else
    ).but(owner="404", admin="403"),
    ("POST", "/api/v1/live/{show_id}/pins"): row(OWNER_PUBLIC, json={"product_id": "{product_id}"}).but(
        owner="allowed",
        admin="allowed",  # not on air: 409
    ),
    ("DELETE", "/api/v1/live/{show_id}/pins/{pin_id}"): row(
        OWNER_PUBLIC,
        names={"pin_id": "show_id"},  # no such pin: the host learns so, nobody else
    ).but(owner="404", admin="404"),
    ("POST", "/api/v1/live/{show_id}/moderation"): row(OWNER_PUBLIC, json={"action": "delete"}).but(
        owner="allowed",
        admin="allowed",  # no message named: 422
    ),
    ("POST", "/api/v1/live/{show_id}/end"): row(OWNER_PUBLIC, last=True),
    ("POST", "/account/tokens/{token_id}/revoke"): row(OWNER, last=True, names={"token_id": "page_token_id"}).but(
        admin="hidden"
    ),
    ("DELETE", "/api/v1/tokens/{token_id}"): row(OWNER, last=True).but(admin="hidden"),
    ("DELETE", "/api/v1/videos/{video_id}/subtitles/{language}"): row(OWNER_PUBLIC, last=True).but(admin="404"),
    ("DELETE", "/api/v1/videos/{video_id}"): row(OWNER_PUBLIC, last=True).but(admin="404"),
    ("DELETE", "/api/v1/products/{product_id}"): row(OWNER, last=True).but(admin="404"),
    ("POST", "/account/password"): row(
        cells("msg:", anonymous="401"), last=True, data={"current": "wrong", "new": "x", "repeat": "x"}
    ),
    ("POST", "/account/sessions/revoke"): row(cells("login", anonymous="401"), last=True),  # signed out: sign in
    ("POST", "/api/v1/me/password"): row(ACCOUNT, last=True, json={"current": PASSWORD, "new": "another long one"}),
    ("POST", "/api/v1/me/sessions/revoke"): row(ACCOUNT, last=True),
    ("POST", "/logout"): row(PUBLIC, last=True),
}


def test_every_route_has_a_row(ctx) -> None:
    routes = app_routes(create_app(ctx))
    declared = {_route_of(key) for key in TABLE}
    missing = [route for route in routes if route not in declared]
    stale = [key for key in TABLE if _route_of(key) not in routes]
    assert not missing, "routes without a row in the authorization matrix: " + ", ".join(map(" ".join, missing))
    assert not stale, "rows for routes that do not exist: " + ", ".join(map(" ".join, stale))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # ~1300 requests: once, on SQLite
def test_authorization_matrix(settings, make_account) -> None:
    with app_with(settings, rate_limits_enabled=False) as (client, ctx):
        world = build_world(client.app, ctx, make_account)
        served = set(app_routes(client.app))
        keys = [key for key in TABLE if _route_of(key) in served]
        ordered = [key for key in keys if not TABLE[key].last] + [key for key in keys if TABLE[key].last]
        failures, started = [], time.monotonic()
        for key in ordered:
            method, template = _route_of(key)
            failures += _check_row(world, method, template, TABLE[key])
        cell_count = len(ordered) * len(ROLES)
    assert not failures, f"{len(failures)} of {cell_count} cells differ:\n" + "\n".join(failures)
    print(f"{len(ordered)} routes, {cell_count} cells in {time.monotonic() - started:.1f} s")


def _route_of(key: tuple[str, str]) -> tuple[str, str]:
    """A row's route: a second row for one route tells its case after a "#"."""
    return key[0], key[1].split("#")[0]


def _check_row(world, method: str, template: str, declared: Row) -> list[str]:
    ids = {**world.ids, **_fixed_names(world)}
    path = fill(template, ids, declared.names)
    failures = []
    for role_name in ROLES:
        role = world.roles[role_name]
        response = send(role, method, path, declared.call, ids)
        got = outcome(response)
        expected = declared.expect[role_name]
        accepted = CLASSES.get(expected, {expected})
        if got == "ok" and expected.startswith("msg:") and expected[4:] in form_message(response, {})[1]:
            got = expected
        elif got == "ok" and expected == "hidden" and not path.startswith("/api/") and method == "POST":
            # A form goes back with a message: refused as "does not exist" when an unknown id gets the same.
            unknown_ids = {key: UNKNOWN_ID if value.isdigit() else value for key, value in ids.items()}
            unknown = send(role, method, fill(template, unknown_ids, declared.names), declared.call, unknown_ids)
            if form_message(response, ids) == form_message(unknown, unknown_ids):
                got = "404"
        if got not in accepted or got.startswith("5"):
            failures.append(
                f"{method} {template} as {role_name}: expected {expected}, got {got} "
                f"({response.status_code} {response.headers.get('location', '')} {response.text[:160]!r})"
            )
    return failures


def _fixed_names(world) -> dict[str, str]:
    """Parameters that name no object but one valid value."""
    return {
        "static_file": "shop.js",
        "ad_event": "impression",
        "board": "merchant",
        "table": "sales",
        "reject": "reject",
        "order_action": "ship",
        "language": "en",
        "owner_id": str(world.roles["owner"].account.user.id),
    }


def test_outcome_classes_are_known() -> None:
    for (method, path), declared in TABLE.items():
        for role, expected in declared.expect.items():
            assert expected in CLASSES or expected.isdigit() or expected.startswith("msg:"), (method, path, role)
