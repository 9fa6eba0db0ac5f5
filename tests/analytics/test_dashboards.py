"""Dashboards: each role's numbers for a period, equal in the page and its CSV downloads (Chromium draws them:
tests/analytics/test_charts.py)."""

from __future__ import annotations

import csv
import io
import re

from tests.analytics.helpers import sell
from tests.commerce.helpers import funded_buyer
from tests.rights.helpers import title
from tests.web.helpers import sign_in
from vetrina.accounts.models import Role
from vetrina.analytics import rollups


def csv_rows(client, path: str) -> list[dict]:
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_the_merchant_dashboard_and_its_csv_agree(client, ctx, make_account):
    merchant, buyer = make_account(Role.merchant), funded_buyer(client, make_account, 50_000)
    film = title(ctx, merchant, "Shop film")
    sell(client, merchant, buyer, film, 1000, finish=True)
    sell(client, merchant, buyer, film, 2500, finish=False)
    rollups.roll_up_new(ctx.db)  # what the per-minute job does (if it has not yet): the funnel reads rollups
    assert sign_in(client, merchant.user.email).status_code == 303
    page = client.get("/dashboard?board=merchant").text
    totals = dict(re.findall(r'data-total="(\w+)">([^<]*)<', page))
    assert totals["revenue"] == "€70.00" and totals["orders"] == "2"
    funnel = {r["step"]: int(r["count"]) for r in csv_rows(client, "/dashboard/merchant/funnel.csv")}
    assert funnel == {"card shown": 2, "card clicked": 2, "buy started": 2, "paid": 2, "confirmed": 1}
    top = csv_rows(client, "/dashboard/merchant/top_products.csv")
    assert [(int(r["units"]), int(r["sales"])) for r in top] == [(2, 5000), (2, 2000)]
    videos = csv_rows(client, "/dashboard/merchant/top_videos.csv")
    assert [(int(r["video_id"]), int(r["orders"]), int(r["sales"])) for r in videos] == [(film, 2, 7000)]
    sales = csv_rows(client, "/dashboard/merchant/sales.csv")
    assert sum(int(r["revenue"]) for r in sales) == 7000 and len(sales) == 30
    for name, rows in (("funnel", funnel), ("top_videos", videos)):
        assert f'data-table="{name}"' in page and len(rows)
    # Other boards are not a merchant's; bad ranges are problems.
    assert client.get("/dashboard?board=operator").status_code == 403
    assert client.get("/dashboard?start=2027-01-02&end=2027-01-01").status_code == 422
    assert client.get("/dashboard?start=2020-01-01&end=2027-01-01").status_code == 422
    # The calendar's ends: a 422 past them, never a 500.
    assert client.get("/dashboard?end=9999-12-31").status_code == 422
    assert client.get("/dashboard?end=0001-01-01").status_code == 200
    assert client.get("/dashboard/merchant/nothing.csv").status_code == 404


def test_the_owner_and_operator_dashboards(client, ctx, make_account):
    owner = make_account(Role.partner)
    film = title(ctx, owner, "Partner film")
    events = [
        {"id": f"p{i}", "type": t, "video_id": film, "second": s}
        for i, (t, s) in enumerate([("play", 0), ("progress", 30), ("progress", 60)])
    ]
    client.post("/api/v1/events", json={"viewer": "viewer-own", "events": events})
    rollups.roll_up_new(ctx.db)
    assert sign_in(client, owner.user.email).status_code == 303
    page = client.get("/dashboard").text
    assert 'data-total="plays">1<' in page and 'data-total="watch_minutes">1 min<' in page
    assert f'href="/videos/{film}/analytics"' in page
    client.cookies.clear()
    admin = make_account(Role.admin)
    assert sign_in(client, admin.user.email).status_code == 303
    operator = client.get("/dashboard?board=operator").text
    assert 'data-total="users">' in operator and 'data-total="queue_depth">' in operator
