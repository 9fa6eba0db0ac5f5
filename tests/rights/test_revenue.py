"""Revenue share: plays, watch time, ad revenue and sales of a licensed title, credited to the licence that
covered the viewer's territory, with the licensor's share; as JSON, CSV and a page."""

from __future__ import annotations

import csv
import io

from tests.ads.helpers import campaign_row
from tests.commerce.helpers import funded_buyer, product, step
from tests.rights.helpers import NOW, from_, licence, title
from tests.shoppable.helpers import tag
from tests.web.helpers import csrf_from, sign_in
from vetrina.accounts.models import Role
from vetrina.ads.models import AdDecision, AdEvent
from vetrina.analytics import rollups


def played(http, film: int, territory: str, viewer: str, furthest: float) -> None:
    events = [
        {"id": f"{viewer}-play", "type": "play", "video_id": film, "second": 0},
        {"id": f"{viewer}-p1", "type": "progress", "video_id": film, "second": furthest / 2},
        {"id": f"{viewer}-p2", "type": "progress", "video_id": film, "second": furthest},
    ]
    response = http.post("/api/v1/events", headers=from_(territory), json={"viewer": viewer, "events": events})
    assert response.json()["accepted"] == 3


def charged_ad(ctx, advertiser, film: int, territory: str, millis: int) -> None:
    """An ad served in the film and charged (written directly: the ad path has its own tests)."""
    with ctx.db.session(write=True) as session:
        campaign = campaign_row(advertiser.user.id, NOW, budget=10_000, kind="linear", name="Spot")
        session.add(campaign)
        session.flush()
        session.add(
            AdDecision(
                id=f"d{campaign.id}",
                campaign_id=campaign.id,
                video_id=film,
                slot="preroll",
                viewer_key="v",
                price_millis=millis,
                territory=territory,
                created_at=NOW,
            )
        )
        session.flush()
        session.add(
            AdEvent(
                decision_id=f"d{campaign.id}",
                campaign_id=campaign.id,
                event="impression",
                charged_millis=millis,
                created_at=NOW,
            )
        )


def test_revenue_is_credited_to_the_licence_of_the_viewers_territory(http, ctx, studio, make_account):
    film = title(ctx, studio)
    china = licence(http, studio, film, ["CN"], distributor="Dragon Pictures", share_bps=3000).json()
    world = licence(http, studio, film, "rest of world", distributor="Globe Films", share_bps=2000).json()
    played(http, film, "CN", "viewer-cn-1", 40)
    played(http, film, "CN", "viewer-cn-2", 20)
    played(http, film, "IT", "viewer-it-1", 60)
    charged_ad(ctx, make_account(Role.merchant), film, "CN", 12_000)  # 12.000 cents = 12 cents

    merchant = make_account(Role.merchant)
    scarf = product(http, merchant, price=2500)
    assert tag(http, studio, film, scarf["id"], 10, 20).status_code == 201  # sold from the film: it is shown there
    buyer = funded_buyer(http, make_account)
    placed = http.post(
        "/api/v1/orders",
        headers=from_("FR", buyer.auth),
        json={"items": [{"product_id": scarf["id"], "quantity": 1}], "source": {"video_id": film, "second": 12}},
    )
    assert placed.status_code == 201, placed.text
    step(http, buyer, placed.json()["id"], "pay")
    unpaid = http.post(
        "/api/v1/orders",
        headers=from_("FR", buyer.auth),
        json={"items": [{"product_id": scarf["id"], "quantity": 1}], "source": {"video_id": film, "second": 13}},
    )
    assert unpaid.status_code == 201  # never paid: not a sale

    rollups.roll_up_new(ctx.db)  # views and watch time are read from the rollups
    day = NOW.date().isoformat()
    report = http.get(f"/api/v1/revenue-share?by=day&start={day}&end={day}", headers=studio.auth).json()
    rows = {r["distributor"]: r for r in report["rows"]}
    assert set(rows) == {"Dragon Pictures", "Globe Films"}
    cn, row = rows["Dragon Pictures"], rows["Globe Films"]
    assert (cn["licence_id"], row["licence_id"]) == (china["id"], world["id"])
    assert (cn["views"], cn["watch_seconds"], cn["ad_revenue"]["amount"], cn["sales"]["amount"]) == (2, 60.0, 12, 0)
    assert (row["views"], row["watch_seconds"], row["ad_revenue"]["amount"]) == (1, 60.0, 0)
    assert row["sales"]["amount"] == 2500
    # 30 % of 12 cents is 3.6: rounded to the nearest cent (money's one rule), not floored to 3.
    assert cn["share"]["amount"] == 4 and row["share"]["amount"] == 2500 * 2000 // 10_000
    assert report["unlicensed_items"] == 0

    exported = http.get(f"/api/v1/revenue-share?by=day&start={day}&end={day}&format=csv", headers=studio.auth)
    assert exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["distributor"], int(r["views"]), int(r["share"])) for r in lines} == {
        ("Dragon Pictures", 2, 4),
        ("Globe Films", 1, 500),
    }

    assert sign_in(http, studio.user.email).status_code == 303
    desk = http.get("/partner").text
    assert 'data-testid="revenue-chart"' in desk and "In all: €5.04." in desk  # the chart and its summary
    table = desk.split('data-testid="revenue-chart-table"')[1].split("</table>")[0]  # the same figures
    assert ">Dragon Pictures<" in table and ">Globe Films<" in table and "<td>€0.04</td><td>€5.00</td>" in table

    # Nobody else sees these figures; bad periods are 422s.
    assert http.get("/api/v1/revenue-share", headers=make_account(Role.partner).auth).json()["rows"] == []
    assert http.get(f"/api/v1/revenue-share?start={day}&end=2020-01-01", headers=studio.auth).status_code == 422
    assert http.get("/api/v1/revenue-share?start=2020-01-01&end=2026-01-01", headers=studio.auth).status_code == 422
    assert http.get("/api/v1/revenue-share?by=week", headers=studio.auth).status_code == 422
    # The calendar's ends (found by tests/web/test_api_fuzz.py): a 422 past them, never a 500.
    assert http.get("/api/v1/revenue-share?end=9999-12-31", headers=studio.auth).status_code == 422
    assert http.get("/api/v1/revenue-share?end=0001-01-01", headers=studio.auth).json()["rows"] == []


def test_the_partner_desk_shows_feeds_licences_and_the_revenue_chart(http, ctx, studio):
    film = title(ctx, studio)
    licence(http, studio, film, ["CN"], distributor="Dragon Pictures", share_bps=5000)
    played(http, film, "CN", "viewer-cn-1", 30)
    assert http.get("/partner", follow_redirects=False).status_code == 303  # signed out: to the sign-in page
    assert sign_in(http, studio.user.email).status_code == 303
    page = http.get("/partner")
    assert page.status_code == 200
    assert "Dragon Pictures" in page.text and "Partner desk" in page.text
    assert "No earnings in the last year yet." in page.text  # plays alone earn nothing
    # A run started from the page: a feed on a private address is refused with the reason, nothing is added.
    added = http.post(
        "/partner/feeds",
        data={"name": "Studio feed", "url": "http://127.0.0.1/feed.xml", "csrf_token": csrf_from(page.text)},
    )
    assert "private or local address" in added.text and "Studio feed" not in added.text.split("<h2>Licences")[0]
    forged = http.post("/partner/feeds", data={"name": "x", "url": "https://example.com/f.xml", "csrf_token": "no"})
    assert forged.status_code == 403
